"""Index a function app with the Python worker's own loader, as ``func start`` would (Python 3.13+).

Run by tests/worker_parity/test_worker_indexing.py in a separate venv that has
``azure-functions-runtime``. Prints one JSON line: the indexed functions, or the error the worker
would report. The worker's protobuf message classes come from the host and are not in the
package; the loader only reads a few names from them, so small stand-ins suffice.
"""

from __future__ import annotations

import json
import sys
import traceback
from types import SimpleNamespace


class _Message:
    def __init__(self, **fields) -> None:
        self.__dict__.update(fields)


class BindingInfo(_Message):
    # Values of the host's protobuf enums (BindingInfo.Direction and BindingInfo.DataType).
    in_, out, inout = 0, 1, 2
    undefined, string, binary, stream = 0, 1, 2, 3


PROTOS = SimpleNamespace(BindingInfo=BindingInfo, RpcFunctionMetadata=_Message, RpcRetryOptions=_Message)


def main(script: str, directory: str) -> int:
    sys.path.insert(0, directory)
    # Installed only in .venv-worker (Python 3.13), where this script runs; not in the venv mypy checks from.
    from azure_functions_runtime import functions, loader  # type: ignore[import-not-found]
    from azure_functions_runtime.bindings import meta  # type: ignore[import-not-found]

    try:
        meta.load_binding_registry()
        indexed = loader.index_function_app(script)
        metadata, _ = loader.process_indexed_function(PROTOS, functions.Registry(), indexed, directory)
    except Exception as exc:  # report what the worker would: the type and message
        print(json.dumps({"ok": False, "error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}))
        return 1
    print(json.dumps({"ok": True, "functions": sorted(m.name for m in metadata)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
