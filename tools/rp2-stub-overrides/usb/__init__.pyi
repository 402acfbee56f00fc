"""micropython-lib's `usb` package (not built into the firmware: installed with
`mpremote mip install usb-device-cdc`); see usb/device/cdc.pyi."""
