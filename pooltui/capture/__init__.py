"""The only code that touches live processes: psutil tree, py-spy dumps, /proc reads."""
