"""serialsync.urgent: the mark follows the work into the threads that in_this_context runs."""

from __future__ import annotations

import threading

from serialsync import in_this_context, is_urgent, urgent


def test_the_mark_follows_the_work_into_in_this_context_threads_only():
    seen: list[bool] = []
    with urgent():
        marked = in_this_context(lambda: seen.append(is_urgent()))
        unmarked = threading.Thread(target=lambda: seen.append(is_urgent()))
        unmarked.start()
        unmarked.join(5)
    runner = threading.Thread(target=marked)
    runner.start()
    runner.join(5)
    assert seen == [False, True]  # a plain thread starts unmarked; a copied context keeps it
    assert not is_urgent()


def test_urgent_false_leaves_the_mark_as_it_is():
    with urgent(False):
        assert not is_urgent()
    with urgent(), urgent(False):
        assert is_urgent()  # a withdrawal inside an order pass stays urgent
