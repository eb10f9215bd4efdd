"""How pytest-xdist hands tests to its workers (`scripts/test` runs the suite with `-n`)."""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

# A journey module drives one `baton demo` in one browser tab (module-scoped fixtures), its tests
# steps of one story in order: they must run in one worker, one after another.
ONE_WORKER_MODULES = ("tests/demo/",)


class JourneysTogether(LoadScopeScheduling):
    """Every test is its own unit of work, handed to the next free worker, except that a module
    under ONE_WORKER_MODULES is one unit. Units with more tests go first (xdist's
    --loadscope-reorder), so the long journeys start at once rather than at the end."""

    def _split_scope(self, nodeid: str) -> str:
        module = nodeid.split("::", 1)[0]
        return module if module.startswith(ONE_WORKER_MODULES) else nodeid
