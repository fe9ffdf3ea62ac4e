"""Field rules for player data: player id, E.164 phone, ISO country/currency/language, dates.

Each validator raises Django's `ValidationError` with a message meant for the operator's
developer, so the ingestion API and the JSON Lines loader can show it unchanged.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils import timezone
from django.utils.deconstruct import deconstructible

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Z]{2})?$")

# ISO 3166-1 alpha-2, officially assigned codes.
COUNTRIES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR
    BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ
    EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW
    GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY
    KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV
    MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY
    QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG
    TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM
    ZW XK
    """.split()  # noqa: SIM905 -- a code table reads better as text
)

# ISO 4217 active currency codes (funds and precious-metal codes left out: never a wallet).
CURRENCIES = frozenset(
    """
    AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD
    CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
    GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW
    KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR
    MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR
    SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX
    USD UYU UZS VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG
    """.split()  # noqa: SIM905 -- a code table reads better as text
)

# Nobody alive was born before this many years ago; catches 1900-01-01 placeholder dates too late.
_MAX_AGE_YEARS = 130
# Operators' clocks drift; a registration a few minutes "in the future" is not an error.
_CLOCK_SKEW = timedelta(minutes=5)


# A player id is a path segment of PEP's URLs (`/api/players-data/v1/players/{playerId}`): it may
# not be a dot segment ("." or "..", which URL normalisation removes, so a DELETE of player ".."
# would hit the collection), nor hold a separator or escape ('/', '\\', '?', '#', '%', ';'),
# whitespace, a control character or an invisible one (zero-width, bidi overrides: a look-alike
# id in the admin). Written without look-ahead and with one way to match each string (dots, one
# non-dot, the rest), so that a long hostile id costs linear time; the same text is the
# `pattern` of the OpenAPI schema (drf-spectacular maps \A and \Z to ^ and $).
_SEGMENT_CHAR = r"[^\s/\\?#%;\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff{dot}]"
PLAYER_ID_PATTERN = r"\A\.*" + _SEGMENT_CHAR.format(dot=".") + _SEGMENT_CHAR.format(dot="") + r"*\Z"
# A %-format string, as Django's validators' messages are ("%%" is one "%").
PLAYER_ID_RULE = (
    "Not a safe player id: no whitespace, control characters, '/', '\\', '?', '#', '%%' or ';', "
    "and not only dots."
)


@deconstructible
class PlayerIdValidator(RegexValidator):
    """The one check of a player id at every way in: APIs, loaders, reconciliation, assign-bonus.

    The pattern covers ASCII; Unicode controls, format characters, lone surrogates, unassigned
    code points and separators (categories C* and Z*) are refused here too.
    """

    regex = PLAYER_ID_PATTERN
    message = PLAYER_ID_RULE
    code = "invalid_player_id"

    def __call__(self, value: object) -> None:
        super().__call__(value)
        if any(unicodedata.category(char)[0] in "CZ" for char in str(value)):
            raise ValidationError(self.message, code=self.code, params={"value": value})


validate_player_id = PlayerIdValidator()


def validate_phone(value: str) -> None:
    if value and not _E164.match(value):
        raise ValidationError(
            "Enter the phone number in E.164 format: '+' then country code and number, "
            "digits only, e.g. +41791234567.",
            code="invalid_phone",
        )


def validate_country(value: str) -> None:
    if value and value not in COUNTRIES:
        raise ValidationError(
            f"{value!r} is not an ISO 3166-1 alpha-2 country code (two upper-case letters, "
            "e.g. CH).",
            code="invalid_country",
        )


def validate_currency(value: str) -> None:
    if value and value not in CURRENCIES:
        raise ValidationError(
            f"{value!r} is not an ISO 4217 currency code (three upper-case letters, e.g. EUR).",
            code="invalid_currency",
        )


def validate_language(value: str) -> None:
    if value and not _LANGUAGE.match(value):
        raise ValidationError(
            f"{value!r} is not a language tag like 'en' or 'de-CH'.", code="invalid_language"
        )


def validate_birth_date(value: date | None) -> None:
    if value is None:
        return
    today = timezone.now().date()
    if value > today:
        raise ValidationError("Birth date is in the future.", code="birth_date_in_future")
    if value.year < today.year - _MAX_AGE_YEARS:
        raise ValidationError(
            f"Birth date is more than {_MAX_AGE_YEARS} years ago.", code="birth_date_too_old"
        )


def validate_not_future(value: object) -> None:
    """A moment the operator says has happened (registration, consent change, event date)."""
    if value is not None and value > timezone.now() + _CLOCK_SKEW:  # type: ignore[operator]
        raise ValidationError("This moment is in the future.", code="date_in_future")
