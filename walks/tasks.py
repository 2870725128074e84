"""Celery tasks of walks (they call services; scheduled by beat in ``CELERY_BEAT_SCHEDULE``)."""

from celery import shared_task


@shared_task(name="walks.tasks.walk_expire_task", ignore_result=True)
def walk_expire_task() -> int:
    """Expire walks past their time (``walks.services.walk_expire_due``); returns how many."""
    from .services import walk_expire_due

    return walk_expire_due()


@shared_task(name="walks.tasks.meet_now_expire_task", ignore_result=True)
def meet_now_expire_task() -> int:
    """Expire pending meet-now requests past their time and end meetups past their exact window; returns how many."""
    from .meet import meet_now_expire_due, meetup_expire_due

    return meet_now_expire_due() + meetup_expire_due()
