"""micropython-lib usb-device (micropython/usb/usb-device/usb/device/core.py):
only what firmware/board_machine.py uses. The micropython-stubs board stubs do
not ship micropython-lib packages; drop this when they do."""

from typing import Any

class _Device:
    def init(self, *itfs: Any, builtin_driver: bool = False, **kwargs: Any) -> None: ...
    def active(self, value: bool | None = None) -> bool: ...

def get() -> _Device: ...
