"""Language tags: the ISO 639-2 codes containers carry (``eng``, ``fre``/``fra``) as the RFC 5646 (BCP 47)
tags HLS's ``LANGUAGE`` and DASH's ``lang`` must be (``en``, ``fr``), and a language's English name.

RFC 5646 takes a language's ISO 639-1 two-letter code where it has one, else its three-letter one. The
table below pairs every ISO 639-1 code with its ISO 639-2 terminology and bibliographic codes and its
English name, as the ISO 639-2 registration authority (the Library of Congress) lists them; the codes of
the languages (and groups of languages) ISO 639-2 has without an ISO 639-1 code follow it.

A tag is a language only where its primary subtag is one of these codes (:func:`known`): RFC 5646 takes
registered subtags only, so a name (``english``) or an unassigned code (``xx``) is not one.
"""
from __future__ import annotations

import re

__all__ = ["bcp47", "language_name", "known", "published"]

#: "two-letter code, ISO 639-2 code(s), English name", one language a line
_TABLE = """\
aa aar Afar
ab abk Abkhazian
af afr Afrikaans
ak aka Akan
am amh Amharic
ar ara Arabic
an arg Aragonese
as asm Assamese
av ava Avaric
ae ave Avestan
ay aym Aymara
az aze Azerbaijani
ba bak Bashkir
bm bam Bambara
be bel Belarusian
bn ben Bengali
bh bih Bihari languages
bi bis Bislama
bo bod/tib Tibetan
bs bos Bosnian
br bre Breton
bg bul Bulgarian
ca cat Catalan
cs ces/cze Czech
ch cha Chamorro
ce che Chechen
cu chu Church Slavic
cv chv Chuvash
kw cor Cornish
co cos Corsican
cr cre Cree
cy cym/wel Welsh
da dan Danish
de deu/ger German
dv div Divehi
dz dzo Dzongkha
el ell/gre Greek, Modern (1453-)
en eng English
eo epo Esperanto
et est Estonian
eu eus/baq Basque
ee ewe Ewe
fo fao Faroese
fa fas/per Persian
fj fij Fijian
fi fin Finnish
fr fra/fre French
fy fry Western Frisian
ff ful Fulah
gd gla Gaelic
ga gle Irish
gl glg Galician
gv glv Manx
gn grn Guarani
gu guj Gujarati
ht hat Haitian
ha hau Hausa
he heb Hebrew
hz her Herero
hi hin Hindi
ho hmo Hiri Motu
hr hrv Croatian
hu hun Hungarian
hy hye/arm Armenian
ig ibo Igbo
io ido Ido
ii iii Sichuan Yi
iu iku Inuktitut
ie ile Interlingue
ia ina Interlingua (International Auxiliary Language Association)
id ind Indonesian
ik ipk Inupiaq
is isl/ice Icelandic
it ita Italian
jv jav Javanese
ja jpn Japanese
kl kal Kalaallisut
kn kan Kannada
ks kas Kashmiri
ka kat/geo Georgian
kr kau Kanuri
kk kaz Kazakh
km khm Central Khmer
ki kik Kikuyu
rw kin Kinyarwanda
ky kir Kirghiz
kv kom Komi
kg kon Kongo
ko kor Korean
kj kua Kuanyama
ku kur Kurdish
lo lao Lao
la lat Latin
lv lav Latvian
li lim Limburgan
ln lin Lingala
lt lit Lithuanian
lb ltz Luxembourgish
lu lub Luba-Katanga
lg lug Ganda
mh mah Marshallese
ml mal Malayalam
mr mar Marathi
mk mkd/mac Macedonian
mg mlg Malagasy
mt mlt Maltese
mn mon Mongolian
mi mri/mao Maori
ms msa/may Malay
my mya/bur Burmese
na nau Nauru
nv nav Navajo
nr nbl Ndebele, South
nd nde Ndebele, North
ng ndo Ndonga
ne nep Nepali
nl nld/dut Dutch
nn nno Norwegian Nynorsk
nb nob Bokmål, Norwegian
no nor Norwegian
ny nya Chichewa
oc oci Occitan (post 1500)
oj oji Ojibwa
or ori Oriya
om orm Oromo
os oss Ossetian
pa pan Panjabi
pi pli Pali
pl pol Polish
pt por Portuguese
ps pus Pushto
qu que Quechua
rm roh Romansh
ro ron/rum Romanian
rn run Rundi
ru rus Russian
sg sag Sango
sa san Sanskrit
si sin Sinhala
sk slk/slo Slovak
sl slv Slovenian
se sme Northern Sami
sm smo Samoan
sn sna Shona
sd snd Sindhi
so som Somali
st sot Sotho, Southern
es spa Spanish
sq sqi/alb Albanian
sc srd Sardinian
sr srp Serbian
ss ssw Swati
su sun Sundanese
sw swa Swahili
sv swe Swedish
ty tah Tahitian
ta tam Tamil
tt tat Tatar
te tel Telugu
tg tgk Tajik
tl tgl Tagalog
th tha Thai
ti tir Tigrinya
to ton Tonga (Tonga Islands)
tn tsn Tswana
ts tso Tsonga
tk tuk Turkmen
tr tur Turkish
tw twi Twi
ug uig Uighur
uk ukr Ukrainian
ur urd Urdu
uz uzb Uzbek
ve ven Venda
vi vie Vietnamese
vo vol Volapük
wa wln Walloon
wo wol Wolof
xh xho Xhosa
yi yid Yiddish
yo yor Yoruba
za zha Zhuang
zh zho/chi Chinese
zu zul Zulu
"""


def _parse() -> tuple[dict[str, str], dict[str, str]]:
    to2: dict[str, str] = {}
    names: dict[str, str] = {}
    for line in _TABLE.splitlines():
        a2, codes, name = line.split(" ", 2)
        names[a2] = name
        to2[a2] = a2
        for c in codes.split("/"):
            to2[c] = a2
    return to2, names


#: the ISO 639-2 codes without an ISO 639-1 code (``haw``, ``fil``, ``gsw``...), as the registration authority
#: lists them, less ``qaa``-``qtz`` (reserved for local use) and the codes of no particular language (:data:`_NONE`)
_ISO639_2_ONLY = frozenset("""
ace ach ada ady afa afh ain akk ale alg alt ang anp apa arc arn arp art arw ast ath aus awa bad bai bal ban bas bat
bej bem ber bho bik bin bla bnt bra btk bua bug byn cad cai car cau ceb cel chb chg chk chm chn cho chp chr chy cmc
cnr cop cpe cpf cpp crh crp csb cus dak dar day del den dgr din doi dra dsb dua dum dyu efi egy eka elx enm ewo fan
fat fil fiu fon frm fro frr frs fur gaa gay gba gem gez gil gmh goh gon gor got grb grc gsw gwi hai haw hil him hit
hmn hsb hup iba ijo ilo inc ine inh ira iro jbo jpr jrb kaa kab kac kam kar kaw kbd kha khi kho kmb kok kos kpe krc
krl kro kru kum kut lad lah lam lez lol loz lua lui lun luo lus mad mag mai mak man map mas mdf mdr men mga mic min
mkh mnc mni mno moh mos mun mus mwl mwr myn myv nah nai nap nds new nia nic niu nog non nqo nso nub nwc nym nyn nyo
nzi osa ota oto paa pag pal pam pap pau peo phi phn pon pra pro raj rap rar roa rom rup sad sah sai sal sam sas sat
scn sco sel sem sga sgn shn sid sio sit sla sma smi smj smn sms snk sog son srn srr ssa suk sus sux syc syr tai tem
ter tet tig tiv tkl tlh tli tmh tog tpi tsi tum tup tut tvl tyv udm uga umb vai vot wak wal war was wen xal yao yap
ypk zap zbl zen zgh znd zun zza
""".split())
#: ISO 639-2's codes of no particular language: undetermined, uncoded, multiple, no linguistic content
_NONE = ("und", "mis", "mul", "zxx")

_TO2, _NAMES = _parse()
_TAG = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
#: a well-formed RFC 5646 tag (its section 2.1's langtag): a language (an ISO 639 code, and up to three extended
#: language subtags), then a script, a region, variants, extensions and a private-use part, each where present
_LANGTAG = re.compile(r"(?P<language>[a-z]{2,3})(?:-[a-z]{3}){0,3}(?:-[a-z]{4})?(?:-(?:[a-z]{2}|\d{3}))?"
                      r"(?:-(?:[a-z\d]{5,8}|\d[a-z\d]{3}))*(?:-[a-wyz\d](?:-[a-z\d]{2,8})+)*(?:-x(?:-[a-z\d]{1,8})+)?",
                      re.IGNORECASE)


def bcp47(lang: str) -> str:
    """The RFC 5646 tag of a container's language tag: ``eng`` -> ``en``, ``fre``/``fra`` -> ``fr``,
    ``pt-BR`` kept (its primary subtag mapped, ``por-BR`` -> ``pt-BR``); a three-letter code without a
    two-letter one kept as it is (``haw``); "" for an empty, ``und`` or malformed tag. Whether it names a
    language at all is :func:`known`'s to say (:func:`published` asks both)."""
    s = (lang or "").strip().replace("_", "-")
    if not s or not _TAG.fullmatch(s) or s.lower() in ("und", "unknown", "mis", "mul", "zxx"):
        return ""
    primary, _, rest = s.partition("-")
    p = _TO2.get(primary.lower(), primary.lower())
    return p + ("-" + rest if rest else "")


def language_name(lang: str) -> str:
    """The English name of a language tag's language (``fra`` -> ``French``), or "" when unknown."""
    return _NAMES.get(bcp47(lang).partition("-")[0], "")


def known(lang: str) -> bool:
    """Whether ``lang`` is a language tag HLS and DASH may carry: a well-formed RFC 5646 tag whose primary subtag
    is an ISO 639-1 code or an ISO 639-2 one, bibliographic or terminology (``en``, ``eng``, ``fre``/``fra``,
    ``haw``, ``pt-BR``, ``zh-Hans``, ``pt_BR`` as containers write it); ``und``, ``mis``, ``mul`` and ``zxx``
    (no particular language) count. Not a name (``english``), an unassigned code (``xx``), one reserved for
    local use (``qaa``), nor one of ISO 639-3's alone (``yue``, ``cmn``: its 7,900 codes are not carried here;
    ``zh-yue`` and ``zh-Hant`` are tags of ``zh``)."""
    m = _LANGTAG.fullmatch((lang or "").strip().replace("_", "-"))
    if m is None:
        return False
    primary = m.group("language").lower()
    return primary in _TO2 or primary in _ISO639_2_ONLY or primary in _NONE


def published(lang: str) -> str:
    """The RFC 5646 tag HLS ``LANGUAGE`` and DASH ``lang`` give a stream tagged ``lang``: :func:`bcp47`'s,
    where :func:`known` says it is a language; "" (none published) otherwise (``english``, ``xx``)."""
    return bcp47(lang) if known(lang) else ""
