"""What the demo says first to each of its people: who they are in it, and three things to try
as that role, so a newcomer knows where to click before the first lead arrives."""

from __future__ import annotations

from datetime import timedelta

from bot.rules import Rules
from slack_emulator import User

REP_STEPS = (
    "Press *Accept* on a card in #sales: the lead is yours, and Baton sends it to you by DM.",
    "Press *Reject* on another and pick a reason: marketing counts every reason.",
    "Type `/leads mine` for your open leads, or open *App Home* on the left.",
)
MANAGER_STEPS = (
    "Type `/leads queue` for the leads waiting for a rep, and `/leads sla` for their deadlines.",
    "Type `/leads assign 3 @bob` to hand lead #3 to Bob.",
    "Wait for a hot lead to pass its claim deadline: the escalation reaches your DMs, "
    "where you can assign or reopen it.",
)
MARKETER_STEPS = (
    "Type `/leads feedback` for why sales rejected leads, by source; "
    "`/leads feedback 30d csv` sends the same as a file to your DMs.",
    "Press *Send the digest now* on the left, then open #marketing.",
    "Open *App Home* on the left for rejection reasons by source and by week.",
)


def welcome_text(person: User, rules: Rules, *, speed: float, cast_line: str) -> str:
    """The welcome for `person`, by the role the demo's rules give them; `cast_line` (see
    `cast`) says whom else to be with *Signed in as*."""
    roles = rules.roles
    first = person.real_name.split()[0]
    if person.id in roles.managers:
        role, steps = "the sales manager", MANAGER_STEPS
    elif person.id in roles.marketers:
        role, steps = "the marketer", MARKETER_STEPS
    else:
        role, steps = "a sales rep", REP_STEPS
    lines = [
        f"*Welcome to the Baton demo, {first}!* You are {role} here. "
        "Sample leads arrive in #sales over the next few minutes. Three things to try:",
        *(f"{number}. {step}" for number, step in enumerate(steps, start=1)),
        f"Be someone else with *Signed in as* (top left): {cast_line}.",
    ]
    if speed != 1:
        policy = rules.sla[0]
        window = policy.claim.as_timedelta(timedelta(days=1)).total_seconds()
        lines.append(
            f"The demo clock (left) runs {speed:g}× faster than real time: "
            f"a {policy.name} lead's {policy.claim} claim window ends in {window / speed:g} s."
        )
    return "\n".join(lines)


def cast(people: list[User], rules: Rules) -> str:
    """`alice and bob are reps, maria the manager, mark the marketer` for the demo's people."""
    roles = rules.roles
    reps = [p.name for p in people if p.id not in roles.managers and p.id not in roles.marketers]
    managers = [p.name for p in people if p.id in roles.managers]
    marketers = [p.name for p in people if p.id in roles.marketers]
    parts = []
    if reps:
        parts.append(f"{' and '.join(reps)} {'are reps' if len(reps) > 1 else 'is a rep'}")
    parts += [f"{name} the manager" for name in managers]
    parts += [f"{name} the marketer" for name in marketers]
    return ", ".join(parts)
