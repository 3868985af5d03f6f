"""Password strength: zxcvbn's estimate, with its advice in the user's language.

The same function serves the server-side validator (which refuses weak passwords) and the
live meter in the forms (an htmx request while the user types), so what the meter says
is what the server enforces. zxcvbn looks at the first 72 characters; longer passphrases
are accepted and judged by those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop
from zxcvbn import zxcvbn

MIN_SCORE = 3  # zxcvbn 0..4: 3 is "safely unguessable: moderate protection from offline attacks"
ZXCVBN_MAX_LENGTH = 72

# zxcvbn's English advice, marked for our catalogs (gettext_noop: extracted, translated
# when shown).
ADVICE = frozenset(
    (
        gettext_noop("A word by itself is easy to guess."),
        gettext_noop("Add another word or two. Uncommon words are better."),
        gettext_noop("All-uppercase is almost as easy to guess as all-lowercase."),
        gettext_noop("Avoid dates and years that are associated with you."),
        gettext_noop("Avoid recent years."),
        gettext_noop("Avoid repeated words and characters."),
        gettext_noop("Avoid sequences."),
        gettext_noop("Avoid years that are associated with you."),
        gettext_noop("Capitalization doesn't help very much."),
        gettext_noop("Common names and surnames are easy to guess."),
        gettext_noop("Dates are often easy to guess."),
        gettext_noop("Names and surnames by themselves are easy to guess."),
        gettext_noop("No need for symbols, digits, or uppercase letters."),
        gettext_noop("Predictable substitutions like '@' instead of 'a' don't help very much."),
        gettext_noop("Recent years are easy to guess."),
        gettext_noop('Repeats like "aaa" are easy to guess.'),
        gettext_noop('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
        gettext_noop("Reversed words aren't much harder to guess."),
        gettext_noop('Sequences like "abc" or "6543" are easy to guess.'),
        gettext_noop("Short keyboard patterns are easy to guess."),
        gettext_noop("Straight rows of keys are easy to guess."),
        gettext_noop("This is a top-10 common password."),
        gettext_noop("This is a top-100 common password."),
        gettext_noop("This is a very common password."),
        gettext_noop("This is similar to a commonly used password."),
        gettext_noop("Use a few words, avoid common phrases."),
        gettext_noop("Use a longer keyboard pattern with more turns."),
    )
)

LABELS = {
    0: gettext_lazy("Very weak"),
    1: gettext_lazy("Weak"),
    2: gettext_lazy("Fair"),
    3: gettext_lazy("Strong"),
    4: gettext_lazy("Very strong"),
}


@dataclass(frozen=True)
class Strength:
    score: int
    label: str
    warning: str
    suggestions: list[str]

    @property
    def acceptable(self) -> bool:
        return self.score >= MIN_SCORE


def _translate(text: str) -> str:
    return _(text) if text in ADVICE else text


def password_strength(password: str, user_inputs: list[str] | None = None) -> Strength:
    if not password:
        return Strength(score=0, label=str(LABELS[0]), warning="", suggestions=[])
    result = zxcvbn(password[:ZXCVBN_MAX_LENGTH], user_inputs=[value for value in (user_inputs or []) if value])
    score = int(result["score"])
    feedback = result["feedback"]
    return Strength(
        score=score,
        label=str(LABELS[score]),
        warning=_translate(feedback.get("warning") or ""),
        suggestions=[_translate(s) for s in feedback.get("suggestions", [])],
    )


def user_inputs_of(user: Any) -> list[str]:
    """Words of the user's own that make a password guessable: their email and name."""
    if user is None:
        return []
    email = str(getattr(user, "email", "") or "")
    name = str(getattr(user, "full_name", "") or "")
    return [email, email.split("@")[0], *name.split()]


class StrengthValidator:
    """AUTH_PASSWORD_VALIDATORS entry: refuses passwords zxcvbn scores below MIN_SCORE."""

    def validate(self, password: str, user: Any = None) -> None:
        strength = password_strength(password, user_inputs_of(user))
        if not strength.acceptable:
            advice = " ".join(part for part in [strength.warning, *strength.suggestions] if part)
            raise ValidationError(
                _("This password is too easy to guess.") + (f" {advice}" if advice else ""),
                code="password_too_weak",
            )

    def get_help_text(self) -> str:
        return _("Use a long passphrase of several uncommon words; length beats symbols.")
