"""The Apple ID + app-specific password path: the REST API does not accept them, so the upload is handed to
Apple's own tools: `iTMSTransporter` (Transporter, for Linux and macOS) or `xcrun altool` (Xcode, macOS).

The password reaches the tool through an environment variable (`-p @env:NAME`, which both tools understand), never
on the command line where `ps` and CI logs would show it. The tool's output is streamed line by line to the
`publish` logger (whose redaction filter masks registered secrets; the password is also masked here).

On Linux (and Windows) iTMSTransporter uploads an .ipa or .pkg only with an asset description
(`-assetDescription AppStoreInfo.plist`): Apple's software analysis of the app, which only Xcode writes
(`xcodebuild -exportArchive` with `generateAppStoreInformation` set in ExportOptions.plist, beside the exported
.ipa). Its format is not published and it describes every file of the app as Apple's analysis sees it, so it is
not produced here: it is taken from beside the binary (or from APPSTORE_PUBLISH_ASSET_DESCRIPTION), and its
absence is an input error before the tool starts. Sources: Transporter User Guide (`-assetFile`: "For Linux and
Windows, -assetDescription is required"); Xcode Help, "Archive export files" (AppStoreInfo.plist); fastlane issues
14349, 16996, 19572 and 29608 (no tool generates it; `-f` with a generated .itmsp is deprecated from 2026).
"""

from __future__ import annotations

import logging
import os
import platform as platform_module
import plistlib
import re
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
ASSET_DESCRIPTION_ENV = "APPSTORE_PUBLISH_ASSET_DESCRIPTION"
ASSET_DESCRIPTION_NAME = "AppStoreInfo.plist"  # what xcodebuild -exportArchive writes beside the .ipa
MAX_ASSET_DESCRIPTION_BYTES = 64 * 1024 * 1024  # Xcode's runs to tens of thousands of lines for a large app
MAX_VERSION_PLIST_BYTES = 64 * 1024
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
    # iTMSTransporter off macOS cannot analyse an app itself: it needs Xcode's AppStoreInfo.plist.
    needs_asset_description: bool = False

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


def _version_key(text: str) -> tuple[int, ...] | None:
    """"16.2" and "16.2.0" alike; None for anything that is not dotted digits."""
    parts = text.strip().split(".")
    if not all(p.isdigit() and len(p) <= 4 for p in parts) or len(parts) > 4:
        return None
    numbers = [int(p) for p in parts]
    while len(numbers) > 1 and numbers[-1] == 0:
        numbers.pop()
    return tuple(numbers)


def installed_xcode_version(app: Path) -> str | None:
    """CFBundleShortVersionString of Xcode.app/Contents/version.plist (what `xcodebuild -version` prints)."""
    plist = app / "Contents" / "version.plist"
    try:
        if not plist.is_file() or plist.stat().st_size > MAX_VERSION_PLIST_BYTES:
            return None
        data = plistlib.loads(plist.read_bytes())
    except (OSError, plistlib.InvalidFileException, ValueError):
        return None
    version = data.get("CFBundleShortVersionString") if isinstance(data, dict) else None
    return version if isinstance(version, str) else None


def selected_xcode(env: Mapping[str, str], xcode_select: Callable[[], str | None]) -> Path | None:
    """The Xcode.app that DEVELOPER_DIR or `xcode-select -p` points at (…/Xcode.app/Contents/Developer)."""
    developer = env.get("DEVELOPER_DIR", "").strip() or (xcode_select() or "").strip()
    if not developer:
        return None
    path = Path(developer)
    return path.parent.parent if path.name == "Developer" and path.parent.name == "Contents" else path


def run_xcode_select() -> str | None:
    try:
        done = subprocess.run(["xcode-select", "-p"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def xcode_developer_dir(xcode_version: str, applications: Path = Path("/Applications"), *,
                        env: Mapping[str, str] | None = None,
                        xcode_select: Callable[[], str | None] = lambda: None) -> Path:
    """DEVELOPER_DIR of the Xcode named by `xcode_version`: by name (GitHub's Xcode_16.2.app, the xcodes tool's
    Xcode-16.2.app), else the installed Xcode*.app whose version.plist says that version, else the selected one
    (DEVELOPER_DIR / xcode-select) when it is that version. InputError listing the installed ones otherwise."""
    version = str(xcode_version).strip()
    names = [f"Xcode_{version}.app", f"Xcode-{version}.app"]
    if "." not in version:
        names += [f"Xcode_{version}.0.app", f"Xcode-{version}.0.app"]
    for name in names:
        developer = applications / name / "Contents" / "Developer"
        if developer.is_dir():
            return developer
    wanted = _version_key(version)
    apps = sorted(applications.glob("Xcode*.app")) if applications.is_dir() else []
    selected = selected_xcode(env or {}, xcode_select)
    installed: list[str] = []
    for app in [*apps, *([selected] if selected is not None and selected not in apps else [])]:
        found = installed_xcode_version(app)
        installed.append(f"{app.name} ({found})" if found else app.name)
        if wanted is not None and found is not None and _version_key(found) == wanted \
                and (app / "Contents" / "Developer").is_dir():
            return app / "Contents" / "Developer"
    raise InputError(
        f"Xcode {version} is not installed: none of {', '.join(str(applications / n) for n in names)} exists, and "
        "no installed Xcode (nor the one xcode-select points at) has that version.",
        hint=(f"Installed here: {', '.join(installed)}. " if installed else "")
        + "Set xcode_version to an installed version (or remove it to use the default Xcode); on GitHub's macOS "
        "runners the installed ones are listed in the runner image's README.",
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
    xcode_select: Callable[[], str | None] = run_xcode_select,
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
        developer_dir = xcode_developer_dir(xcode_version, applications, env=env, xcode_select=xcode_select)
        xcrun = which("xcrun", path=path)
        if xcrun is None:
            raise InputError("xcrun is not on PATH, so altool cannot be run.",
                             hint="Install the Xcode command line tools (xcode-select --install).")
        return UploadTool("altool", (xcrun, "altool"), {"DEVELOPER_DIR": str(developer_dir)})
    found = which(TRANSPORTER_NAME, path=path)
    if found:
        return UploadTool("itmstransporter", (found,), needs_asset_description=not is_mac)
    for candidate in transporter_candidates(env, home):
        if is_executable(candidate):
            return UploadTool("itmstransporter", (str(candidate),), needs_asset_description=not is_mac)
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


ASSET_DESCRIPTION_HINT = (
    "iTMSTransporter on Linux uploads an .ipa or .pkg only with the asset description Xcode writes: export the "
    "archive on a Mac with `xcodebuild -exportArchive -exportOptionsPlist ExportOptions.plist` where "
    "ExportOptions.plist sets generateAppStoreInformation to true, and keep the AppStoreInfo.plist it writes beside "
    f"the binary (or name it with {ASSET_DESCRIPTION_ENV}). It cannot be made without Xcode. Or upload with an App "
    "Store Connect API key (`api_key:`): the Build Upload API needs neither Transporter nor an asset description."
)


def find_asset_description(binary: Path, env: Mapping[str, str]) -> Path:
    """The AppStoreInfo.plist for `binary`: the one APPSTORE_PUBLISH_ASSET_DESCRIPTION names, else the one beside
    the binary. Absolute, because Transporter on Linux resolves a relative one against its own install directory."""
    named = env.get(ASSET_DESCRIPTION_ENV, "").strip()
    candidate = Path(named).expanduser() if named else binary.parent / ASSET_DESCRIPTION_NAME
    where = f"{ASSET_DESCRIPTION_ENV} names {candidate}" if named else f"there is no {candidate}"
    if not candidate.is_file():
        raise InputError(
            f"iTMSTransporter on this system (not macOS) needs an asset description (-assetDescription "
            f"{ASSET_DESCRIPTION_NAME}) to upload {binary.name}, and {where}"
            + (", which is not a file" if named and candidate.exists() else ""),
            hint=ASSET_DESCRIPTION_HINT)
    try:
        size = candidate.stat().st_size
        if size > MAX_ASSET_DESCRIPTION_BYTES:
            raise InputError(f"the asset description {candidate} is {size} bytes, more than Xcode writes "
                             f"({MAX_ASSET_DESCRIPTION_BYTES} at most)", hint=ASSET_DESCRIPTION_HINT)
        data = plistlib.loads(candidate.read_bytes())
    except (OSError, plistlib.InvalidFileException, ValueError) as exc:
        raise InputError(f"the asset description {candidate} is not a property list ({exc})",
                         hint=ASSET_DESCRIPTION_HINT) from None
    if not isinstance(data, dict) or not data:
        raise InputError(f"the asset description {candidate} is not the dictionary Xcode writes",
                         hint=ASSET_DESCRIPTION_HINT)
    return candidate.resolve()


def upload_command(tool: UploadTool, ipa_path: Path, *, apple_id: str, platform: str = "IOS",
                   provider: str | None = None, asset_description: Path | None = None) -> list[str]:
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
    if asset_description is not None:
        argv += ["-assetDescription", str(asset_description)]
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
        description = find_asset_description(path, self._env) if tool.needs_asset_description else None
        argv = upload_command(tool, path, apple_id=apple_id, platform=platform, provider=provider,
                              asset_description=description)
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
                hint=_hint_for(errors),  # error lines only: verbose output names "Password" in passing
            )
        return TransporterResult(tool=tool.kind, exit_code=exit_code, output_tail=list(tail))


# Transporter's own form is ">  ERROR: ..." or "[time] <main> ERROR: ..." (fastlane parses the same marker).
_TRANSPORTER_ERROR = re.compile(r"(^\s*>?\s*|<main>\s*)error\b")


def _is_error_line(line: str) -> bool:
    lowered = line.lower()
    return "error itms-" in lowered or "*** error" in lowered or lowered.lstrip().startswith("error:") or \
        "[error]" in lowered or _TRANSPORTER_ERROR.search(lowered) is not None


def _hint_for(lines: Sequence[str]) -> str:
    text = "\n".join(lines).lower()
    if "assetdescription" in text or "software analysis" in text or "only supported on os x" in text:
        return ASSET_DESCRIPTION_HINT
    if "redundant binary upload" in text or "itms-4238" in text:
        return "This build number was uploaded already: raise CFBundleVersion, rebuild and upload again."
    if "app-specific password" in text or "-22938" in text or "-22910" in text:
        return ("Apple wants an app-specific password, not the Apple ID's own password: create one at "
                "https://account.apple.com (Sign-In and Security > App-Specific Passwords) and use it.")
    if "locked" in text and "apple id" in text:
        return "The Apple ID is locked: unlock it at https://iforgot.apple.com, then create a new app-specific " \
               "password."
    if "401" in text or "authentic" in text or "password" in text or "sign in" in text or "-20101" in text:
        return ("Apple did not accept the Apple ID and password: use an app-specific password (not the account "
                "password), check the Apple ID, and pass a provider when the account belongs to several teams.")
    if "bundle version" in text or "cfbundleversion" in text or "itms-90062" in text:
        return "The build number is already used: raise CFBundleVersion, rebuild and upload again."
    return "Read the tool's messages above; fix the IPA or the account settings they name, and run again."
