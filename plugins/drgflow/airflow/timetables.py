"""Calendar-period timetables: one run per month (or year) in Asia/Shanghai, whose data interval is exactly that
calendar period, scheduled a fixed delay after the period ends (late claims arrive in the first days).

monthly_settlement: PeriodTimetable("month", delay_days=4, delay_hours=3) runs on the 5th at 03:00 for the
previous month; its logical date is the first day of the month it settles.
"""
from __future__ import annotations

from typing import Any

import pendulum
from airflow.timetables.base import DagRunInfo, DataInterval, TimeRestriction, Timetable
from pendulum import DateTime

TZ_NAME = "Asia/Shanghai"
TZ = pendulum.timezone(TZ_NAME)


def period_start(at: DateTime, unit: str) -> DateTime:
    """First instant (Shanghai) of the month or year containing `at`."""
    local = pendulum.instance(at).in_timezone(TZ)
    return local.start_of(unit)


def next_period(start: DateTime, unit: str) -> DateTime:
    """Start of the month or year after the one starting at `start`."""
    return start.add(months=1) if unit == "month" else start.add(years=1)


class PeriodTimetable(Timetable):
    """Data interval = one calendar month or year (Asia/Shanghai); the run happens `delay` after its end."""

    def __init__(self, unit: str = "month", delay_months: int = 0, delay_days: int = 4, delay_hours: int = 3) -> None:
        if unit not in ("month", "year"):
            raise ValueError(f"unit must be month or year, not {unit!r}")
        self.unit = unit
        self.delay_months = int(delay_months)
        self.delay_days = int(delay_days)
        self.delay_hours = int(delay_hours)
        when = f"{self.delay_months} month(s) {self.delay_days} day(s) {self.delay_hours} hour(s) after"
        self.description = f"one run per calendar {unit}, {when} it ends ({TZ_NAME})"

    @property
    def summary(self) -> str:
        """Short schedule text for the Airflow UI, e.g. `previous month +0m4d3h`."""
        return f"previous {self.unit} +{self.delay_months}m{self.delay_days}d{self.delay_hours}h"

    def serialize(self) -> dict[str, Any]:
        """The constructor's arguments, for the serialized DAG."""
        return {"unit": self.unit, "delay_months": self.delay_months, "delay_days": self.delay_days,
                "delay_hours": self.delay_hours}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> PeriodTimetable:
        """The timetable of a serialize() dict."""
        return cls(data["unit"], data["delay_months"], data["delay_days"], data["delay_hours"])

    def run_after(self, period_end: DateTime) -> DateTime:
        """When the run of the period ending at period_end is due (wall-clock delay in Shanghai)."""
        local = pendulum.instance(period_end).in_timezone(TZ)
        return local.add(months=self.delay_months, days=self.delay_days, hours=self.delay_hours).in_timezone("UTC")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PeriodTimetable) and self.serialize() == other.serialize()

    def __hash__(self) -> int:
        return hash(tuple(self.serialize().items()))

    def interval_of(self, start: DateTime) -> DataInterval:
        """Data interval (UTC) of the calendar period containing `start`."""
        start = period_start(start, self.unit)
        return DataInterval(start=start.in_timezone("UTC"), end=next_period(start, self.unit).in_timezone("UTC"))

    def infer_manual_data_interval(self, *, run_after: DateTime) -> DataInterval:
        """A manual run (or dag.test) at `run_after` settles the last period that ended `delay` before it."""
        last_due = pendulum.instance(run_after).in_timezone(TZ).subtract(
            months=self.delay_months, days=self.delay_days, hours=self.delay_hours)
        current = period_start(last_due, self.unit)
        previous = current.subtract(months=1) if self.unit == "month" else current.subtract(years=1)
        return self.interval_of(previous)

    def next_dagrun_info(self, *, last_automated_data_interval: DataInterval | None,
                         restriction: TimeRestriction) -> DagRunInfo | None:
        """The next period to run: after the last automated one, else the first whole period allowed."""
        if last_automated_data_interval is not None:
            start = next_period(period_start(last_automated_data_interval.start, self.unit), self.unit)
        elif restriction.earliest is None:
            return None
        else:
            earliest = pendulum.instance(restriction.earliest)
            start = period_start(earliest, self.unit)
            if start < earliest:  # a partial first period is not settled
                start = next_period(start, self.unit)
            if not restriction.catchup:
                # without catchup only the latest period already due is run
                latest_due = self.infer_manual_data_interval(run_after=pendulum.now("UTC")).start
                start = max(start, period_start(latest_due, self.unit))
        interval = self.interval_of(start)
        if restriction.latest is not None and interval.start > restriction.latest:
            return None
        return DagRunInfo(run_after=self.run_after(interval.end), data_interval=interval)
