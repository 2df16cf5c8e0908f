"""The Textual TUI. Receives a source (live or recorded) from cli; never reads processes itself."""
