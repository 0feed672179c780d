"""The gap rules of FRAMES.md section 3.4."""

from correio import Gap, SequenceTracker


def test_first_message_and_in_order_messages_have_no_gap() -> None:
    tracker = SequenceTracker()
    assert tracker.accept("chan/a/", "p", 42, 1) is None
    assert tracker.accept("chan/a/", "p", 43, 3) is None
    assert tracker.last("chan/a/", "p") == 45


def test_a_jump_is_a_gap() -> None:
    tracker = SequenceTracker()
    tracker.accept("chan/a/", "p", 1, 1)
    assert tracker.accept("chan/a/", "p", 5, 2) == Gap("chan/a/", "p", 2, 4)
    assert tracker.last("chan/a/", "p") == 6


def test_a_restart_at_one_resets_without_a_gap() -> None:
    tracker = SequenceTracker()
    tracker.accept("chan/a/", "p", 10, 1)
    assert tracker.accept("chan/a/", "p", 1, 2) is None
    assert tracker.last("chan/a/", "p") == 2


def test_a_restart_that_lost_its_first_messages_is_a_gap() -> None:
    tracker = SequenceTracker()
    tracker.accept("chan/a/", "p", 10, 1)
    gap = tracker.accept("chan/a/", "p", 4, 1)
    assert gap == Gap("chan/a/", "p", 1, 3, restarted=True) and gap.count == 3


def test_publishers_and_topics_are_tracked_apart() -> None:
    tracker = SequenceTracker()
    tracker.accept("chan/a/", "p", 1, 1)
    assert tracker.accept("chan/b/", "p", 7, 1) is None
    assert tracker.accept("chan/a/", "q", 9, 1) is None
    assert tracker.accept("chan/a/", "p", 2, 1) is None


def test_an_implausible_jump_is_re_anchored_not_a_gap() -> None:
    tracker = SequenceTracker()
    tracker.accept("chan/a/", "p", 1, 1)
    assert tracker.accept("chan/a/", "p", 2**40, 1) is None  # no gap of a trillion publications
    assert tracker.implausible == 1 and tracker.last("chan/a/", "p") == 2**40
    assert tracker.accept("chan/a/", "p", 2**40 + 1, 1) is None
