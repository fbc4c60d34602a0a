"""Services: the shop's rules, written against repositories."""
