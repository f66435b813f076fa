"""Writes (HackSoft's "push"): keyword-only services that every face calls.

``switching.switch_primary`` is the only writer of ``is_primary``; ``queue.enqueue_on_commit``
is the only way a task is started; ``delivery/`` takes messages and calls from intake to the
provider; ``migration/`` is the wizard's state machine and its executor; ``costs/`` computes.
"""
