"""Typed errors with stable machine-readable codes (PROFILE §10).

Every rejection the library can produce is listed in ``CODES`` so that the codes are
documented, stable and testable. Error details are written by this library only: they never
contain a token, a key, or a hash of a body.
"""

from __future__ import annotations

from typing import Final

#: code -> (HTTP status, short human title)
CODES: Final[dict[str, tuple[int, str]]] = {}


def _register(status: int, **titles: str) -> None:
    for code, title in titles.items():
        CODES[code.replace("__", ".")] = (status, title)


# Token-level failures shared by the three token kinds: "<kind>.<reason>".
for _kind, _name in (("wit", "WIT"), ("wpt", "WPT"), ("ect", "ECT")):
    _register(
        400,
        **{
            f"{_kind}__missing": f"{_name} missing",
            f"{_kind}__duplicate": f"more than one {_name} header",
            f"{_kind}__too_large": f"{_name} exceeds the size limit",
            f"{_kind}__malformed": f"{_name} is not a well-formed compact JWS",
            f"{_kind}__typ_invalid": f"{_name} has the wrong typ",
            f"{_kind}__alg_not_allowed": f"{_name} algorithm not allowed",
            f"{_kind}__header_forbidden": f"{_name} carries a forbidden JOSE header",
            f"{_kind}__bad_signature": f"{_name} signature invalid",
            f"{_kind}__expired": f"{_name} expired",
            f"{_kind}__not_yet_valid": f"{_name} not valid yet (nbf)",
            f"{_kind}__claims_invalid": f"{_name} claims missing or ill-typed",
        },
    )

_register(
    400,
    wit__untrusted_domain="WIT issued by an untrusted trust domain",
    wit__unknown_kid="WIT signing key not found in the trust bundle",
    wit__invalid_sub="WIT subject is not a valid workload identifier",
    wit__cnf_invalid="WIT confirmation key invalid",
    wit__unexpected_subject="WIT subject is not the expected peer",
    wit__issuer_mismatch="WIT issuer is not the trust domain's configured issuer",
    wit__audience_mismatch="WIT audience does not name this service",
    wpt__alg_mismatch="WPT algorithm differs from the WIT confirmation key",
    wpt__audience_mismatch="WPT audience is not this service",
    wpt__lifetime_exceeded="WPT lifetime exceeds the maximum",
    wpt__wth_mismatch="WPT not bound to the presented WIT",
    wpt__ath_mismatch="WPT not bound to the Authorization token",
    wpt__tth_mismatch="WPT not bound to the Txn-Token",
    wpt__oth_mismatch="WPT not bound to the Execution-Context header",
    wpt__oth_unknown="WPT binds a header this service does not understand",
    wpt__replayed="WPT replayed",
    ect__alg_mismatch="ECT algorithm differs from the issuer key",
    ect__issuer_mismatch="ECT issuer is not the authenticated caller",
    ect__audience_mismatch="ECT audience does not include this service",
    ect__issued_in_future="ECT issued in the future",
    ect__lifetime_exceeded="ECT lifetime exceeds the maximum",
    ect__invalid_id="ECT jti, wid or par entry is not a UUID",
    ect__ext_too_large="ECT ext claim too large",
    ect__ext_too_deep="ECT ext claim nested too deeply",
    ect__too_many="too many ECTs on one request",
    ect__wid_mismatch="ECTs on one request belong to different workflows",
    ect__replayed="ECT presented more than once",
    ect__unsigned="ECT is unsigned (assurance level L1), which is not accepted",
    ect__draft_conflict="ECT carries one claim in both draft spellings",
    dag__too_many_parents="ECT has too many parents",
    dag__parent_unknown="ECT parent not found",
    dag__parent_after_child="ECT parent issued after its child",
    dag__cycle="ECT would close a cycle",
    dag__ancestor_limit="ECT ancestry exceeds the walk limit",
    request__headers_too_large="Execution-Context headers exceed the size limit",
)
_register(403, policy__denied="denied by policy")
_register(403, caller__not_allowed="caller not allowed for this route")
_register(503, ledger__unavailable="audit ledger unavailable")
_register(503, replay__unavailable="replay cache unavailable")
_register(429, replay__caller_limit="caller holds too many live replay-cache entries")


class ECTError(Exception):
    """A rejection with a stable ``code``; ``status`` is the HTTP status it maps to."""

    def __init__(self, code: str, detail: str) -> None:
        status, title = CODES[code]
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail
        self.status = status
        self.title = title

    def problem(self) -> dict[str, object]:
        """The RFC 9457 problem document for this error."""
        return {
            "type": f"urn:ect-middleware:error:{self.code}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }


class ConfigurationError(Exception):
    """The service's own configuration is unusable (raised at startup, never per request)."""


class LedgerError(Exception):
    """The ledger could not record or read an entry."""
