"""ActivityWatch app names → taskclf's app id, category and browser/editor/terminal flags."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = ["APP_CATEGORIES", "KNOWN_APPS", "AppInfo", "normalize_app"]


@dataclass(frozen=True, slots=True)
class AppInfo:
    """What taskclf derives from an application name."""

    app_id: str
    category: str

    @property
    def is_browser(self) -> bool:
        return self.category == "browser"

    @property
    def is_editor(self) -> bool:
        return self.category == "editor"

    @property
    def is_terminal(self) -> bool:
        return self.category == "terminal"


# Data carried over from taskclf (adapters/activitywatch/mapping.py at 1f207a9): lower-cased
# ActivityWatch app name -> (reverse-domain app id, category). taskclf's three flags are exactly
# "category is browser / editor / terminal", so they are derived rather than stored.
_TABLE: Final[dict[str, tuple[str, str]]] = {
    # browser
    "firefox": ("org.mozilla.firefox", "browser"),
    "google chrome": ("com.google.Chrome", "browser"),
    "google-chrome": ("com.google.Chrome", "browser"),
    "chrome": ("com.google.Chrome", "browser"),
    "chromium": ("org.chromium.Chromium", "browser"),
    "chromium-browser": ("org.chromium.Chromium", "browser"),
    "safari": ("com.apple.Safari", "browser"),
    "arc": ("company.thebrowser.Browser", "browser"),
    "brave browser": ("com.brave.Browser", "browser"),
    "brave-browser": ("com.brave.Browser", "browser"),
    "microsoft edge": ("com.microsoft.edgemac", "browser"),
    "msedge": ("com.microsoft.edgemac", "browser"),
    "vivaldi": ("com.vivaldi.Vivaldi", "browser"),
    "opera": ("com.operasoftware.Opera", "browser"),
    "zen browser": ("io.github.nicothin.zen", "browser"),
    # editor
    "code": ("com.microsoft.VSCode", "editor"),
    "visual studio code": ("com.microsoft.VSCode", "editor"),
    "code - insiders": ("com.microsoft.VSCodeInsiders", "editor"),
    "cursor": ("com.todesktop.cursor", "editor"),
    "intellij idea": ("com.jetbrains.intellij", "editor"),
    "idea": ("com.jetbrains.intellij", "editor"),
    "pycharm": ("com.jetbrains.pycharm", "editor"),
    "webstorm": ("com.jetbrains.webstorm", "editor"),
    "goland": ("com.jetbrains.goland", "editor"),
    "clion": ("com.jetbrains.clion", "editor"),
    "rustrover": ("com.jetbrains.rustrover", "editor"),
    "sublime text": ("com.sublimetext.4", "editor"),
    "sublime_text": ("com.sublimetext.4", "editor"),
    "vim": ("org.vim.Vim", "editor"),
    "gvim": ("org.vim.Vim", "editor"),
    "neovim": ("io.neovim.nvim", "editor"),
    "nvim": ("io.neovim.nvim", "editor"),
    "emacs": ("org.gnu.emacs", "editor"),
    "xcode": ("com.apple.dt.Xcode", "editor"),
    "android studio": ("com.google.android.studio", "editor"),
    "zed": ("dev.zed.Zed", "editor"),
    # terminal
    "terminal": ("com.apple.Terminal", "terminal"),
    "iterm2": ("com.googlecode.iterm2", "terminal"),
    "iterm": ("com.googlecode.iterm2", "terminal"),
    "alacritty": ("org.alacritty", "terminal"),
    "kitty": ("net.kovidgoyal.kitty", "terminal"),
    "wezterm": ("org.wezfurlong.wezterm", "terminal"),
    "wezterm-gui": ("org.wezfurlong.wezterm", "terminal"),
    "gnome-terminal": ("org.gnome.Terminal", "terminal"),
    "konsole": ("org.kde.konsole", "terminal"),
    "hyper": ("co.zeit.hyper", "terminal"),
    "ghostty": ("com.mitchellh.ghostty", "terminal"),
    "rio": ("io.raphamorim.rio", "terminal"),
    "warp": ("dev.warp.Warp", "terminal"),
    "tabby": ("org.tabby.Tabby", "terminal"),
    # email
    "mail": ("com.apple.mail", "email"),
    "thunderbird": ("org.mozilla.thunderbird", "email"),
    "outlook": ("com.microsoft.Outlook", "email"),
    # chat
    "slack": ("com.tinyspeck.slackmacgap", "chat"),
    "discord": ("com.discordapp.Discord", "chat"),
    "microsoft teams": ("com.microsoft.teams2", "chat"),
    "teams": ("com.microsoft.teams2", "chat"),
    "messages": ("com.apple.MobileSMS", "chat"),
    # meeting
    "zoom": ("us.zoom.xos", "meeting"),
    "zoom.us": ("us.zoom.xos", "meeting"),
    "facetime": ("com.apple.FaceTime", "meeting"),
    # docs
    "notes": ("com.apple.Notes", "docs"),
    "obsidian": ("md.obsidian", "docs"),
    "notion": ("notion.id", "docs"),
    # design
    "figma": ("com.figma.Desktop", "design"),
    # devtools
    "postman": ("com.postmanlabs.mac", "devtools"),
    "docker desktop": ("com.docker.docker", "devtools"),
    # media
    "spotify": ("com.spotify.client", "media"),
    # file_manager
    "finder": ("com.apple.finder", "file_manager"),
    "nautilus": ("org.gnome.Nautilus", "file_manager"),
    "files": ("org.gnome.Nautilus", "file_manager"),
    # utilities
    "preview": ("com.apple.Preview", "utilities"),
    "system preferences": ("com.apple.systempreferences", "utilities"),
    "system settings": ("com.apple.systempreferences", "utilities"),
    "activity monitor": ("com.apple.ActivityMonitor", "utilities"),
    "1password": ("com.1password.1password", "utilities"),
    "bitwarden": ("com.bitwarden.desktop", "utilities"),
    # project_mgmt
    "linear": ("com.linear", "project_mgmt"),
    # lockscreen
    "loginwindow": ("com.apple.loginwindow", "lockscreen"),
    "lockapp.exe": ("com.microsoft.LockApp", "lockscreen"),
    "logonui.exe": ("com.microsoft.LogonUI", "lockscreen"),
    "gnome-screensaver": ("org.gnome.ScreenSaver", "lockscreen"),
    "gnome-shell": ("org.gnome.Shell", "lockscreen"),
    "xdg-desktop-portal-gnome": ("org.freedesktop.portal.Desktop", "lockscreen"),
    "i3lock": ("org.i3wm.i3lock", "lockscreen"),
    "swaylock": ("org.swaywm.swaylock", "lockscreen"),
    "xscreensaver": ("org.jwz.xscreensaver", "lockscreen"),
    "light-locker": ("org.freedesktop.light-locker", "lockscreen"),
    "slock": ("org.suckless.slock", "lockscreen"),
}

KNOWN_APPS: Final = MappingProxyType({name: AppInfo(*info) for name, info in _TABLE.items()})

APP_CATEGORIES: Final = frozenset({info.category for info in KNOWN_APPS.values()} | {"other"})


def normalize_app(app_name: str) -> AppInfo:
    """taskclf's lookup: case-insensitive and trimmed; unknown → ``unknown.<name>`` / ``other``."""
    key = app_name.strip().lower()
    known = KNOWN_APPS.get(key)
    if known is not None:
        return known
    return AppInfo(f"unknown.{key.replace(' ', '_').replace('/', '_')}", "other")
