"""``toolkit serve``: run the web service under uvicorn (imported only when the command runs)."""

from __future__ import annotations

import logging
import os


def serve(db: str, host: str = "127.0.0.1", port: int = 8000, workers: int = 1, schema_dirs: tuple[str, ...] = ()) -> None:
    """Serve one store. Several workers need an import string, so the store is passed to each
    worker process in the environment; uvicorn's own access log is off because it would log the
    link tokens in paths (ours masks them)."""
    import uvicorn

    from ..collection.store import Store

    Store(db, schema_dirs=schema_dirs).close()        # a missing or unreachable store fails here, in one line
    os.environ["TOOLKIT_WEB_DB"] = db
    os.environ["TOOLKIT_WEB_SCHEMA_DIRS"] = os.pathsep.join(schema_dirs)
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    print(f"统计部门看板 / office dashboard: http://{shown}:{port}/office\n"
          "各单位的报送链接 / agency links: toolkit collect links DB --base-url URL", flush=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    uvicorn.run("toolkit.web.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, proxy_headers=True, log_level="info")
