"""Accounts: OAuth tokens that stay valid for weeks.

Actors never keep a token: they ask a `TokenSource` when they connect or send, and report a
401 to it. `AccountTokenSource` asks the account actor (`accounts/<id>` in the tree), which
refreshes ahead of expiry and stores each new pair before handing it out;
`StaticTokenSource` wraps a token pasted into the configuration (never refreshed).
"""

from actors.accounts.source import (
    AccessToken,
    AccountTokenSource,
    NeedsLogin,
    StaticTokenSource,
    TokenSource,
    TokenUnavailable,
)

__all__ = [
    "AccessToken",
    "AccountTokenSource",
    "NeedsLogin",
    "StaticTokenSource",
    "TokenSource",
    "TokenUnavailable",
]
