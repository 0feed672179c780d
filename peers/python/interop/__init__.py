"""Programs that let other processes drive this peer (tools/interop): JSON lines on stdin and stdout."""
