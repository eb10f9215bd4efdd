"""A process that writes to a SQLite database through storage.db, for the tests of the write
turn across processes: `python -m tests.storage.writing_process URL MODE NAME`.

`hold` takes the turn to write and keeps it (saying `holding`) until its standard input closes,
`hold-writing` the same after writing a row (so it holds SQLite's write lock too);
`write` says `ready`, waits for a line, then writes WRITES rows from THREADS threads and prints
how many went in and the errors of those that did not, as JSON.
"""

from __future__ import annotations

import json
import sys
import threading

from sqlalchemy import text

from storage.db import Database

WRITES = 200
THREADS = 4
INSERT = text("INSERT INTO writes (writer) VALUES (:name)")


def hold(db: Database, name: str, *, writing: bool) -> None:
    with db.write() as session:
        if writing:  # SQLite's own write lock is taken at the transaction's first statement
            session.execute(INSERT, {"name": name})
        print("holding", flush=True)
        sys.stdin.read()


def write(db: Database, name: str) -> None:
    print("ready", flush=True)
    sys.stdin.readline()
    written: list[int] = []
    errors: list[str] = []

    def writer() -> None:
        for _ in range(WRITES // THREADS):
            try:
                with db.write() as session:
                    session.execute(INSERT, {"name": name})
            except Exception as error:
                errors.append(str(error))
            else:
                written.append(1)

    threads = [threading.Thread(target=writer) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps({"written": len(written), "errors": errors}), flush=True)


def main() -> None:
    url, mode, name = sys.argv[1:4]
    db = Database.from_url(url)
    if mode == "write":
        write(db, name)
    else:
        hold(db, name, writing=mode == "hold-writing")


if __name__ == "__main__":
    main()
