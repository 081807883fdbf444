#!/usr/bin/env python3
"""Minimal RTSP server for vigil's tests: serves an H.264 MP4 file at rtsp://127.0.0.1:PORT/stream.

Each client gets its own pipeline (not shared) that plays the file from the start in real time.
Prints "READY <port>" on stdout once listening; exits with status 2 if it cannot listen.
"""
import argparse
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--file", required=True, help="H.264 in MP4")
    ap.add_argument("--path", default="/stream")
    ap.add_argument("--shared", action="store_true", help="one pipeline for all clients")
    args = ap.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = GstRtspServer.RTSPMediaFactory()
    location = args.file.replace("\\", "\\\\").replace('"', '\\"')
    factory.set_launch(
        f'( filesrc location="{location}" ! qtdemux ! h264parse '
        f"! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )
    factory.set_shared(args.shared)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr, flush=True)
        return 2
    print(f"READY {args.port}", flush=True)
    try:
        GLib.MainLoop().run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
