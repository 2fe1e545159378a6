"""The Apple ID + app-specific password path: the REST API does not accept them, so the upload is handed to
Apple's own tools: `iTMSTransporter` (Transporter, for Linux and macOS) or `xcrun altool` (Xcode, macOS).

The password reaches the tool through an environment variable (`-p @env:NAME`, which both tools understand), never
on the command line where `ps` and CI logs would show it. The tool's output is streamed line by line to the
`publish` logger (whose redaction filter masks registered secrets; the password is also masked here).
"""

from __future__ import annotations

import logging
import os
import platform as platform_module
import shutil
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from publish.errors import InputError, RemoteError
from publish.redact import Redactor

log = logging.getLogger(__name__)

PASSWORD_ENV = "APPSTORE_PUBLISH_APP_SPECIFIC_PASSWORD"
TRANSPORTER_NAME = "iTMSTransporter"
TAIL_LINES = 25
ALTOOL_PLATFORMS = {"IOS": "ios", "TV_OS": "appletvos", "VISION_OS": "visionos", "MAC_OS": "macos"}
INSTALL_HINT = (
    "Install Apple's Transporter: on Linux download \"Transporter for Linux\" (iTMSTransporter) from App Store "
    "Connect's Transporter page (https://help.apple.com/itc/transporteruserguide/) and run its installer (it puts "
    "iTMSTransporter in /usr/local/itms/bin); on macOS install Transporter from the Mac App Store or Xcode (xcrun "
    "altool). Or switch the step to an App Store Connect API key (`api_key:`), which needs no extra tool."
)


@dataclass(frozen=True)
class UploadTool:
    """A tool found on this machine: `kind` is "itmstransporter" or "altool"; `command` starts its argv."""

    kind: str
    command: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)

    @property
    def display(self) -> str:
        return " ".join(self.command)


def transporter_candidates(env: Mapping[str, str], home: Path) -> list[Path]:
    """Where Transporter installs itself, after PATH: the Linux installer's default, a per-user install, the
    macOS Transporter.app."""
    candidates = []
    custom = env.get("ITMS_TRANSPORTER_HOME") or env.get("TRANSPORTER_HOME")
    if custom:
        candidates.append(Path(custom) / "bin" / TRANSPORTER_NAME)
    candidates += [
        Path("/usr/local/itms/bin") / TRANSPORTER_NAME,
        home / "itms" / "bin" / TRANSPORTER_NAME,
        Path("/Applications/Transporter.app/Contents/itms/bin") / TRANSPORTER_NAME,
        home / "Applications/Transporter.app/Contents/itms/bin" / TRANSPORTER_NAME,
    ]
    return candidates


def xcode_developer_dir(xcode_version: str, applications: Path = Path("/Applications")) -> Path:
    """DEVELOPER_DIR of the Xcode named by `xcode_version` (GitHub's Xcode_16.2.app, the xcodes tool's
    Xcode-16.2.app); InputError listing the installed ones when it is missing."""
    version = str(xcode_version).strip()
    names = [f"Xcode_{version}.app", f"Xcode-{version}.app"]
    if "." not in version:
        names += [f"Xcode_{version}.0.app", f"Xcode-{version}.0.app"]
    for name in names:
        developer = applications / name / "Contents" / "Developer"
        if developer.is_dir():
            return developer
    installed = sorted(p.name for p in applications.glob("Xcode*.app")) if applications.is_dir() else []
    raise InputError(
        f"Xcode {version} is not installed: none of {', '.join(str(applications / n) for n in names)} exists.",
        hint=(f"Installed here: {', '.join(installed)}. " if installed else "")
        + "Set xcode_version to an installed version (or remove it to use the default Xcode).",
    )


def find_upload_tool(
    *,
    env: Mapping[str, str] | None = None,
    xcode_version: str | None = None,
    system: str | None = None,
    which: Callable[..., str | None] = shutil.which,
    home: Path | None = None,
    applications: Path = Path("/Applications"),
    is_executable: Callable[[Path], bool] = lambda p: p.is_file() and os.access(p, os.X_OK),
) -> UploadTool:
    """The tool to upload with. With `xcode_version` on macOS: that Xcode's altool. Otherwise iTMSTransporter
    (PATH, then its usual install places), else `xcrun altool` on macOS. InputError when there is none."""
    env = dict(os.environ if env is None else env)
    system = system or platform_module.system()
    home = home or Path(env.get("HOME") or Path.home())
    path = env.get("PATH")
    is_mac = system == "Darwin"
    if xcode_version and not is_mac:
        log.warning("xcode_version %s is ignored: Xcode (altool) only exists on macOS; using Transporter.",
                    xcode_version)
    if xcode_version and is_mac:
        developer_dir = xcode_developer_dir(xcode_version, applications)
        xcrun = which("xcrun", path=path)
        if xcrun is None:
            raise InputError("xcrun is not on PATH, so altool cannot be run.",
                             hint="Install the Xcode command line tools (xcode-select --install).")
        return UploadTool("altool", (xcrun, "altool"), {"DEVELOPER_DIR": str(developer_dir)})
    found = which(TRANSPORTER_NAME, path=path)
    if found:
        return UploadTool("itmstransporter", (found,))
    for candidate in transporter_candidates(env, home):
        if is_executable(candidate):
            return UploadTool("itmstransporter", (str(candidate),))
    if is_mac:
        xcrun = which("xcrun", path=path)
        if xcrun is not None:
            return UploadTool("altool", (xcrun, "altool"))
    raise InputError(
        "Uploading with an Apple ID and app-specific password needs Apple's Transporter (iTMSTransporter) or "
        "Xcode's altool, and neither was found (looked on PATH and in "
        f"{', '.join(str(p.parent) for p in transporter_candidates(env, home))}).",
        hint=INSTALL_HINT,
    )


def upload_command(tool: UploadTool, ipa_path: Path, *, apple_id: str, platform: str = "IOS",
                   provider: str | None = None) -> list[str]:
    """The argv: the password is named by `@env:` and never appears in it."""
    if tool.kind == "altool":
        platform_flag = ALTOOL_PLATFORMS.get(platform)
        if platform_flag is None:
            raise InputError(f"altool cannot upload for platform {platform}.")
        argv = [*tool.command, "--upload-app", "-f", str(ipa_path), "-t", platform_flag, "-u", apple_id,
                "-p", f"@env:{PASSWORD_ENV}", "--output-format", "normal"]
        if provider:
            argv += ["--asc-provider", provider]
        return argv
    argv = [*tool.command, "-m", "upload", "-assetFile", str(ipa_path), "-u", apple_id,
            "-p", f"@env:{PASSWORD_ENV}", "-v", "informational"]
    if provider:
        argv += ["-itc_provider", provider]
    return argv


@dataclass(frozen=True)
class TransporterResult:
    tool: str
    exit_code: int
    output_tail: list[str]


class TransporterUploader:
    """Runs the tool for one IPA. `env` is the environment the tool inherits (default: this process's)."""

    def __init__(self, *, env: Mapping[str, str] | None = None, redactor: Redactor | None = None,
                 xcode_version: str | None = None, timeout: float | None = None,
                 find_tool: Callable[..., UploadTool] = find_upload_tool,
                 on_line: Callable[[str], None] | None = None) -> None:
        self._env = dict(os.environ if env is None else env)
        self._redactor = redactor
        self._xcode_version = xcode_version
        self._timeout = timeout
        self._find_tool = find_tool
        self._on_line = on_line

    def upload(self, ipa_path: str | os.PathLike[str], *, apple_id: str, password: str, platform: str = "IOS",
               provider: str | None = None) -> TransporterResult:
        path = Path(ipa_path)
        if not path.is_file():
            raise InputError(f"The IPA {path} does not exist.", hint="Check the path and that the build produced it.")
        if not apple_id or not password:
            raise InputError("Uploading with an Apple ID needs both the Apple ID and its app-specific password.",
                             hint="Create an app-specific password at https://account.apple.com (Sign-In and "
                                  "Security > App-Specific Passwords) and reference it in the flow's apple_ids.")
        redactor = self._redactor or Redactor()
        redactor.add(password)
        tool = self._find_tool(env=self._env, xcode_version=self._xcode_version)
        argv = upload_command(tool, path, apple_id=apple_id, platform=platform, provider=provider)
        env = {**self._env, **tool.env, PASSWORD_ENV: password}
        log.info("Uploading %s with %s", path.name, tool.display)
        tail: deque[str] = deque(maxlen=TAIL_LINES)
        errors: list[str] = []
        try:
            process = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True, errors="replace", bufsize=1)
        except OSError as exc:
            raise InputError(f"Could not start {tool.display}: {exc.strerror or exc}.", hint=INSTALL_HINT) from None
        try:
            assert process.stdout is not None
            for raw in process.stdout:
                line = redactor.redact(raw.rstrip("\r\n"))
                if not line.strip():
                    continue
                tail.append(line)
                if _is_error_line(line) and len(errors) < TAIL_LINES:
                    errors.append(line.strip())
                log.info("%s: %s", "transporter" if tool.kind == "itmstransporter" else "altool", line)
                if self._on_line is not None:
                    self._on_line(line)
            exit_code = process.wait(timeout=self._timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise RemoteError(f"{tool.display} did not finish within {self._timeout:.0f} s and was stopped.",
                              hint="Check the network; run again (Transporter resumes what it can).") from None
        except BaseException:
            process.kill()
            process.wait()
            raise
        finally:
            if process.stdout is not None:
                process.stdout.close()
        if exit_code != 0:
            shown = errors or list(tail)[-10:]
            details = "\n".join(f"  {line}" for line in shown) or "  (no output)"
            raise RemoteError(
                f"{tool.display} failed (exit code {exit_code}):\n{details}",
                hint=_hint_for(shown),
            )
        return TransporterResult(tool=tool.kind, exit_code=exit_code, output_tail=list(tail))


def _is_error_line(line: str) -> bool:
    lowered = line.lower()
    return "error itms-" in lowered or "*** error" in lowered or lowered.lstrip().startswith("error:") or \
        "[error]" in lowered


def _hint_for(lines: Sequence[str]) -> str:
    text = "\n".join(lines).lower()
    if "401" in text or "authentic" in text or "password" in text or "sign in" in text:
        return ("Apple did not accept the Apple ID and password: use an app-specific password (not the account "
                "password), check the Apple ID, and pass a provider when the account belongs to several teams.")
    if "bundle version" in text or "cfbundleversion" in text or "itms-4238" in text or "itms-90062" in text:
        return "The build number is already used: raise CFBundleVersion, rebuild and upload again."
    return "Read the tool's messages above; fix the IPA or the account settings they name, and run again."
