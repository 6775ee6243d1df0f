"""What a role check found: findings with their severity and the SQL that fixes each."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlgateway.role.definition import Severity

__all__ = ["Finding", "RoleReport", "UnsafeRoleError"]

_ORDER = (Severity.UNSAFE, Severity.REDUCED, Severity.WARNING)


@dataclass(frozen=True)
class Finding:
    severity: Severity
    text: str
    #: the SQL that fixes it, one statement a line; "" when there is none to give
    fix: str = ""
    #: the fix needs a superuser (on a managed database: the provider's support)
    fix_needs_superuser: bool = False
    #: what it is about, in a few words (a function family's title, a setting's name)
    topic: str = ""


@dataclass(frozen=True)
class RoleReport:
    role: str
    database: str
    findings: list[Finding] = field(default_factory=list)

    @property
    def safe(self) -> bool:
        """No unsafe finding: the gateway serves with this role."""
        return not any(f.severity is Severity.UNSAFE for f in self.findings)

    @property
    def severity(self) -> Severity | None:
        """The worst finding's severity; None when there is none."""
        present = {f.severity for f in self.findings}
        return next((s for s in _ORDER if s in present), None)

    def of(self, severity: Severity) -> list[Finding]:
        return [f for f in self.findings if f.severity is severity]

    def render(self, *, superuser_fixes: bool = True) -> str:
        """Every finding, worst first, each with its fix (but those that need a superuser,
        unless `superuser_fixes`); then the verdict."""
        lines = [f"role {self.role} on database {self.database}:"]
        for severity in _ORDER:
            for finding in self.of(severity):
                lines.append(f"  {severity.value}: {finding.text}")
                if finding.fix and (superuser_fixes or not finding.fix_needs_superuser):
                    who = " (as a superuser)" if finding.fix_needs_superuser else ""
                    fix = finding.fix.splitlines()
                    lines.append(f"      fix{who}: {fix[0]}")
                    lines += [f"      {' ' * (len(who) + 5)}{line}" for line in fix[1:]]
        lines.append(f"  {self.verdict()}")
        return "\n".join(lines)

    def verdict(self) -> str:
        warnings = len(self.of(Severity.WARNING))
        note = f" ({warnings} warning{'s' if warnings != 1 else ''})" if warnings else ""
        if self.severity is Severity.UNSAFE:
            return f"UNSAFE: the gateway will not serve with this role{note}"
        if self.severity is Severity.REDUCED:
            layers = len(self.of(Severity.REDUCED))
            return (
                f"reduced depth: safe to serve, but {layers} layer(s) behind the guard are "
                f"missing{note}"
            )
        return f"ok: read-only, least privilege{note}"


class UnsafeRoleError(Exception):
    """The role the gateway connects as could write, leak or escape; it will not serve."""

    def __init__(self, report: RoleReport) -> None:
        super().__init__(
            f"refusing to serve: the database role is not read-only and least-privilege\n"
            f"{report.render()}\nRun `sqlgateway provision-role` for the SQL that creates a "
            "safe role, and `sqlgateway check-role` to check it."
        )
        self.report = report
