"""The ``Ledger`` contract, for every engine: what goes in comes back, chained and findable."""

from __future__ import annotations

import dataclasses
import threading
import uuid

from ect_middleware.ledger import ChainReport, Ledger, NewEntry, verify_chain
from ect_middleware.ledger.base import GENESIS_HASH, entry_hash
from ect_middleware.ledger.sqlite import PAGE_SIZE

from ..support.ledger import chain, entry, workflow

RECORDED_US = 1_800_000_000_250_000
NEW_FIELDS = tuple(NewEntry.__dataclass_fields__)


def as_new(recorded: NewEntry) -> dict[str, object]:
    return {name: getattr(recorded, name) for name in NEW_FIELDS}


def test_round_trip(ledger: Ledger) -> None:
    first = chain(3)
    second = workflow(4, seed=1)

    recorded = ledger.append(first) + ledger.append(second)

    assert [e.seq for e in recorded] == [1, 2, 3, 4, 5, 6, 7]
    assert [as_new(e) for e in recorded] == [as_new(e) for e in first + second]
    assert recorded[0].prev_hash == GENESIS_HASH
    assert [e.prev_hash for e in recorded[1:]] == [e.hash for e in recorded[:-1]]
    assert {e.recorded_us for e in recorded} == {RECORDED_US}
    assert recorded[4].hash == entry_hash(
        second[1], seq=5, recorded_us=RECORDED_US, prev_hash=recorded[3].hash
    )
    assert list(ledger.entries()) == recorded
    assert list(ledger.entries(wid=second[0].wid)) == recorded[3:]
    assert list(ledger.entries(wid=str(uuid.uuid4()))) == []
    assert ledger.find(first[1].jti) == [recorded[1]]
    assert ledger.find(str(uuid.uuid4())) == []
    assert ledger.head() == (7, recorded[-1].hash)
    assert verify_chain(ledger.entries(), ledger.head()) == ChainReport(True, 7)


def test_workflow_without_wid_is_stored_as_none(ledger: Ledger) -> None:
    root = entry(wid=None)
    (recorded,) = ledger.append([root])
    assert recorded.wid is None
    assert ledger.find(root.jti)[0].wid is None
    assert list(ledger.entries(wid="")) == []


def test_appending_nothing_changes_nothing(ledger: Ledger) -> None:
    assert ledger.head() == (0, GENESIS_HASH)
    assert ledger.append([]) == []
    assert ledger.head() == (0, GENESIS_HASH)
    assert verify_chain(ledger.entries(), ledger.head()) == ChainReport(True, 0)


def test_one_task_received_and_then_minted_is_found_twice(ledger: Ledger) -> None:
    received = entry(direction="received")
    minted = dataclasses.replace(received, direction="minted", wit=None)
    ledger.append([received])
    ledger.append(chain(2))
    ledger.append([minted])
    found = ledger.find(received.jti)
    assert [(e.seq, e.direction, e.wit) for e in found] == [
        (1, "received", received.wit),
        (4, "minted", None),
    ]


def test_an_integer_iat_hashes_like_its_float(ledger: Ledger) -> None:
    as_int = dataclasses.replace(entry(), iat=1_800_000_000)
    ledger.append([as_int])
    (stored,) = ledger.find(as_int.jti)
    assert stored.iat == 1_800_000_000.0
    assert verify_chain(ledger.entries(), ledger.head()) == ChainReport(True, 1)


def test_entries_stream_across_pages(ledger: Ledger) -> None:
    steps = chain(10)
    other = chain(1)
    for _ in range(PAGE_SIZE // 5 + 1):  # 2 * PAGE_SIZE + 10 entries of steps' workflow
        ledger.append(steps)
        ledger.append(other)
    total = (PAGE_SIZE // 5 + 1) * 11
    assert [e.seq for e in ledger.entries()] == list(range(1, total + 1))
    in_workflow = list(ledger.entries(wid=steps[0].wid))
    assert len(in_workflow) == 2 * PAGE_SIZE + 10
    assert {e.wid for e in in_workflow} == {steps[0].wid}
    assert [e.seq for e in in_workflow] == [s for s in range(1, total + 1) if s % 11 != 0]
    assert verify_chain(ledger.entries(), ledger.head()) == ChainReport(True, total)


def test_iteration_sees_entries_appended_meanwhile(ledger: Ledger) -> None:
    steps = chain(5)
    for _ in range(PAGE_SIZE // 5):
        ledger.append(steps)
    walk = ledger.entries()
    first_page = [next(walk) for _ in range(PAGE_SIZE)]
    ledger.append(chain(3))
    rest = list(walk)
    assert [e.seq for e in first_page + rest] == list(range(1, PAGE_SIZE + 4))


def test_a_snapshot_does_not_move_while_others_append(ledger: Ledger) -> None:
    recorded = ledger.append(chain(3))
    with ledger.snapshot() as view:
        appended = threading.Thread(target=ledger.append, args=(chain(2),))
        appended.start()
        appended.join()
        ledger.append(chain(1))  # and from this very thread
        assert view.head() == (3, recorded[-1].hash)
        assert list(view.entries()) == recorded
        assert verify_chain(view.entries(), view.head()) == ChainReport(True, 3)
    assert ledger.head()[0] == 6


def test_threads_never_fork_the_chain(ledger: Ledger) -> None:
    per_thread = [chain(50) for _ in range(6)]
    start = threading.Barrier(len(per_thread))

    def append_one_by_one(entries: list[NewEntry]) -> None:
        start.wait()
        for new in entries:
            ledger.append([new])

    threads = [threading.Thread(target=append_one_by_one, args=(e,)) for e in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    recorded = list(ledger.entries())
    assert [e.seq for e in recorded] == list(range(1, 301))
    assert verify_chain(recorded, ledger.head()) == ChainReport(True, 300)
    for entries in per_thread:  # each thread's own order survives the interleaving
        jtis = [e.jti for e in entries]
        assert [e.jti for e in recorded if e.wid == entries[0].wid] == jtis
