"""The baseline for bench/host_overhead.py: one route on the same server stack, nothing else.

``python bench/hello_app.py`` serves it on a free port and prints ``hello ready on http://...``.
"""

import sys
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route


async def health(request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


app = Starlette(routes=[Route("/api/health", health)])

if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from emulator.server import ReadyServer, bind

    sock = bind("127.0.0.1", 0)
    server = ReadyServer(uvicorn.Config(app, log_level="warning", access_log=False))
    server.ready_line = f"hello ready on http://127.0.0.1:{sock.getsockname()[1]}/api"
    server.run(sockets=[sock])
