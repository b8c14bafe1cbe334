"""The scheduler role: durable timers (Wait, retry back-off, timeouts, heartbeats) and
schedules (cron/rate/at) on APScheduler 3 with a persistent job store in the store's database.

``run_scheduler`` runs a replica; ``create_schedule`` and friends manage schedules without
one. See docs/scheduler.md.
"""

from runtime.scheduler.deadletters import DeadLetter
from runtime.scheduler.errors import (
    ScheduleAlreadyExists,
    ScheduleExpressionError,
    ScheduleNotFound,
    SchedulerError,
    ScheduleValidationError,
)
from runtime.scheduler.expressions import next_fire_times, parse_schedule_expression, parse_timezone
from runtime.scheduler.policy import RetryPolicy
from runtime.scheduler.role import SchedulerOptions, SchedulerStats, TimerScheduler, run_scheduler
from runtime.scheduler.schedules import (
    Schedule,
    ScheduleState,
    create_schedule,
    delete_schedule,
    disable_schedule,
    enable_schedule,
    execution_name,
    get_schedule,
    list_dead_letters,
    list_schedules,
    preview_schedule,
    purge_dead_letters,
    update_schedule,
)

__all__ = [
    "DeadLetter",
    "RetryPolicy",
    "Schedule",
    "ScheduleAlreadyExists",
    "ScheduleExpressionError",
    "ScheduleNotFound",
    "ScheduleState",
    "ScheduleValidationError",
    "SchedulerError",
    "SchedulerOptions",
    "SchedulerStats",
    "TimerScheduler",
    "create_schedule",
    "delete_schedule",
    "disable_schedule",
    "enable_schedule",
    "execution_name",
    "get_schedule",
    "list_dead_letters",
    "list_schedules",
    "next_fire_times",
    "parse_schedule_expression",
    "parse_timezone",
    "preview_schedule",
    "purge_dead_letters",
    "run_scheduler",
    "update_schedule",
]
