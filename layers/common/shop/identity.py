"""Who may do what: the verified caller and the ownership rules every service applies.

A user reads and changes only what is theirs. An admin (a member of the `admin` group) may also
read any user's data and administer the catalogue; nobody charges, spends or takes a coupon for
another user, admin or not.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop.errors import Forbidden


@dataclass(frozen=True)
class Caller:
    user_id: str
    is_admin: bool = False

    def reads(self, user_id: str) -> str:
        """`user_id`, if the caller may read that user's data (theirs, or any as an admin)."""
        if user_id != self.user_id and not self.is_admin:
            raise Forbidden(f"user {self.user_id} may not read the data of another user")
        return user_id

    def acts_for(self, user_id: str | None) -> str:
        """The user a change is made for: the caller, named or left out; never another user."""
        if user_id is not None and user_id != self.user_id:
            raise Forbidden(f"user {self.user_id} may not act for another user")
        return self.user_id

    def administers(self) -> None:
        """Catalogue administration: admins only."""
        if not self.is_admin:
            raise Forbidden("catalogue administration needs a member of the admin group")
