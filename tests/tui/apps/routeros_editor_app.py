"""A RouterOS editor alone on a screen, for snapshot tests."""

from __future__ import annotations

from textual.app import App, ComposeResult

from sdx_tui.widgets.routeros_editor import RouterOSEditor

SAMPLE = """\
# Block SSH from the internet, keep the management subnet
/ip firewall filter
add chain=input protocol=tcp dst-port=22 src-address=!10.0.0.0/8 action=drop
/ip/address/add address=192.168.88.1/24 interface=ether2 comment="lan \\"A\\""
:local uptime 1d2h3m
:foreach id in=[/interface find where !disabled] do={
    :put "interface $[/interface get $id name] next=$($id + 1)"
}
:if ([:len $uptime] > 0) do={ /system reboot } else={ :error "no" }
"""


class RouterOSEditorApp(App[None]):
    """Shows SAMPLE in a focused RouterOS editor with a steady cursor."""

    def compose(self) -> ComposeResult:
        editor = RouterOSEditor(SAMPLE, id="script-content")
        editor.cursor_blink = False
        yield editor

    def on_mount(self) -> None:
        editor = self.query_one(RouterOSEditor)
        editor.move_cursor(editor.document.end)
        editor.focus()
