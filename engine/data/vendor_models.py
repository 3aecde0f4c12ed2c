"""Tables of vendor selection (供应商评选): each scorer's score of every candidate vendor on every
criterion, stored per scorer (`engine.work.vendor_scoring` writes and reads them).

Vendors and criteria are the instance's own start data (lists fixed when the request starts), so a
score names them by their position in those lists.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from engine.data.models import Base, utcnow


class VendorScore(Base):
    """One scorer's score (0 to 100) of vendor number `vendor` on criterion number `criterion`."""

    __tablename__ = "vendor_score"
    __table_args__ = (UniqueConstraint("instance_id", "scorer", "vendor", "criterion", name="uq_vendor_score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instance.id", ondelete="CASCADE"))
    scorer: Mapped[str] = mapped_column(String(100))
    vendor: Mapped[int] = mapped_column(Integer)
    criterion: Mapped[int] = mapped_column(Integer)
    score: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(default=utcnow)
