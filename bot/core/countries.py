"""Which country a patient is in, for the emergency number they are told: given at
enrolment, else read from the phone number the clinic recorded (libphonenumber's data)."""

from __future__ import annotations

import phonenumbers


def country_code(value: str) -> str:
    """An ISO 3166 alpha-2 code as the clinic typed it ("fr" -> "FR"); raises ValueError for
    a code libphonenumber does not know."""
    code = value.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown country {value!r} (a two-letter ISO 3166 code such as FR)")
    return code


def country_of(phone: str | None) -> str:
    """The country of an international phone number ("+33 6 12 34 56 78" -> "FR"); "" when
    the number is national, invalid or shared by several countries' plans it cannot tell."""
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return ""
    region = phonenumbers.region_code_for_number(number) or ""
    return region if region in phonenumbers.SUPPORTED_REGIONS else ""  # not "001" (+800)
