"""What a reconciliation of the money finds: balances their ledger does not explain, and orders
with no PAYMENT entry; and the event of the schedule that starts one."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScheduledRun(BaseModel):
    """The payload EventBridge Scheduler sends (the schedule's `Input` in template.yaml, its
    context attributes filled in). Every field may be absent: a run started by hand with `{}`
    is a run too."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    schedule_arn: str | None = Field(default=None, alias="scheduleArn")
    scheduled_time: str | None = Field(default=None, alias="scheduledTime")
    execution_id: str | None = Field(default=None, alias="executionId")
    attempt: str | None = Field(default=None, alias="attemptNumber")


class _Finding(BaseModel):
    model_config = ConfigDict(frozen=True)

    def describe(self) -> str:
        """The finding in a line, for people."""
        raise NotImplementedError


class BalanceMismatch(_Finding):
    """A user whose balance is not their CHARGE entries minus their PAYMENT entries."""

    user_id: str
    balance: int
    ledger_sum: int

    def describe(self) -> str:
        return f"user {self.user_id}: balance {self.balance:,}, charges minus payments {self.ledger_sum:,}"


class UnpaidOrder(_Finding):
    """An order stored with no PAYMENT entry in its user's ledger."""

    order_id: str
    user_id: str

    def describe(self) -> str:
        return f"order {self.order_id} of user {self.user_id} has no PAYMENT entry"


class Reconciliation(BaseModel):
    """One run over every balance, ledger entry and order."""

    model_config = ConfigDict(frozen=True)

    users: int
    entries: int
    orders: int
    mismatches: list[BalanceMismatch]
    unpaid_orders: list[UnpaidOrder]
    unsettled_users: list[str] = []
    """Users whose money moved on every attempt to confirm a difference: checked again next run."""

    @property
    def findings(self) -> int:
        """What the run found wrong: one per mismatching user and one per unpaid order."""
        return len(self.mismatches) + len(self.unpaid_orders)

    @property
    def holds(self) -> bool:
        return self.findings == 0

    @property
    def differences(self) -> list[str]:
        """Each finding in a line: the mismatching users first, then the unpaid orders."""
        return [finding.describe() for finding in [*self.mismatches, *self.unpaid_orders]]
