"""Value kinds of config settings: how a command-line value is checked and stored, and how a
stored value reads back, prints in vzlist and appears in JSON.

A kind never touches the system; it turns text into text (the stored form is always the
string in ``KEY="value"``) or into the typed value callers use.
"""

from __future__ import annotations

from pyvz import validate
from pyvz.errors import E, VzError

__all__ = [
    "Choice",
    "Hostname",
    "Int",
    "IpList",
    "Kind",
    "Name",
    "OnOffList",
    "PathKind",
    "Str",
    "Text",
    "Words",
    "YesNo",
    "bad_value",
]


def bad_value(option: str, text: str, code: int = E.INVALID_PARAMETER_VALUE) -> VzError:
    return VzError(code, f"Bad parameter for --{option}: {text}")


class Kind:
    """Plain string; subclasses check and normalise."""

    json_type = "string"

    def parse(self, text: str, option: str) -> str:
        if "\n" in text or '"' in text or "\0" in text:
            raise bad_value(option, text)
        return text

    def value(self, stored: str) -> object:
        return stored

    def to_json(self, stored: str | None) -> object:
        return stored if stored not in (None, "") else None

    def show(self, stored: str | None) -> str:
        return stored if stored else "-"


class Str(Kind):
    pass


class Text(Kind):
    """Free text (descriptions): any printable characters except a double quote."""

    def parse(self, text: str, option: str) -> str:
        if not text.isprintable() or '"' in text or "\\" in text or "$" in text \
                or "`" in text:
            raise bad_value(option, text)
        return text


class Int(Kind):
    json_type = "integer"

    def __init__(self, low: int = 0, high: int = 2**63 - 1) -> None:
        self.low = low
        self.high = high

    def parse(self, text: str, option: str) -> str:
        try:
            n = int(text, 10)
        except ValueError:
            raise bad_value(option, text) from None
        if not self.low <= n <= self.high:
            raise bad_value(option, text)
        return str(n)

    def value(self, stored: str) -> int | None:
        try:
            return int(stored)
        except ValueError:
            return None

    def to_json(self, stored: str | None) -> object:
        return self.value(stored) if stored else None


class YesNo(Kind):
    json_type = "boolean"

    def parse(self, text: str, option: str) -> str:
        low = text.lower()
        if low in ("yes", "no"):
            return low
        raise bad_value(option, text)

    def value(self, stored: str) -> bool:
        return stored.lower() == "yes"

    def to_json(self, stored: str | None) -> object:
        return None if not stored else self.value(stored)


class Choice(Kind):
    def __init__(self, *choices: str) -> None:
        self.choices = choices

    def parse(self, text: str, option: str) -> str:
        if text not in self.choices:
            raise bad_value(option, text)
        return text


class Words(Kind):
    """Space-separated list (NAMESERVER, SEARCHDOMAIN, …)."""

    json_type = "array"

    def value(self, stored: str) -> list[str]:
        return stored.split()

    def to_json(self, stored: str | None) -> object:
        return stored.split() if stored else []

    def show(self, stored: str | None) -> str:
        return stored if stored else "-"


class IpList(Words):
    def parse(self, text: str, option: str) -> str:
        if text == "all" and option == "ipdel":
            return text
        return validate.check_ip(text)


class Hostname(Kind):
    def parse(self, text: str, option: str) -> str:
        return validate.check_hostname(text)


class Name(Kind):
    def parse(self, text: str, option: str) -> str:
        return validate.check_name(text)


class PathKind(Kind):
    """An absolute path; ``$VEID`` (or ``$VE_ID``) stands for the CTID."""

    def parse(self, text: str, option: str) -> str:
        return validate.check_path(text, option)


class OnOffList(Kind):
    """``name:on|off[,name:on|off…]`` lists (CAPABILITY, FEATURES), stored space-separated."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names

    def parse(self, text: str, option: str) -> str:
        items = []
        for item in text.replace(",", " ").split():
            name, sep, state = item.partition(":")
            if not sep or state not in ("on", "off") or name.lower() not in self.names:
                raise bad_value(option, text)
            items.append(f"{name.lower()}:{state}")
        return " ".join(items)

    def value(self, stored: str) -> dict[str, bool]:
        result = {}
        for item in stored.split():
            name, _, state = item.partition(":")
            result[name] = state == "on"
        return result

    def to_json(self, stored: str | None) -> object:
        return stored.split() if stored else []
