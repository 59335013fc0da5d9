"""The demo ISP's markets: countries with their currency, tax, cities, names and streets, and its partners.

Plain data; `dataset` draws customers from it with a seeded random generator.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class City:
    name: str
    state: str  # ISO 3166-2 subdivision (without the country part)
    postal_codes: tuple[str, ...]
    lat: float
    lon: float
    timezone: str
    phone_prefix: str  # national format after the country code, the subscriber part is drawn


@dataclass(frozen=True)
class Country:
    code: str  # ISO 3166-1 alpha-2
    currency: str  # ISO 4217
    tax_rate_bp: int  # VAT / sales tax in basis points
    dialing_code: str
    cities: tuple[City, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]
    streets: tuple[str, ...]
    house_number_first: bool  # "12 High Street" rather than "Hauptstraße 12"
    company_forms: tuple[str, ...]
    # connection type, last-mile technology, weight
    access: tuple[tuple[str, str | None, int], ...]


@dataclass(frozen=True)
class Partner:
    key: str
    name: str
    realm: str  # the RADIUS realm of its subscribers' usernames
    shares: dict[str, float]  # country -> share of that country's customers sold through this partner


GERMANY = Country(
    code="DE", currency="EUR", tax_rate_bp=1900, dialing_code="+49",
    cities=(
        City("Berlin", "BE", ("10115", "10245", "10405", "12043", "13353"), 52.520, 13.405, "Europe/Berlin", "30"),
        City("Hamburg", "HH", ("20095", "20257", "22301", "22767"), 53.551, 9.993, "Europe/Berlin", "40"),
        City("München", "BY", ("80331", "80469", "80797", "81369"), 48.137, 11.575, "Europe/Berlin", "89"),
        City("Köln", "NW", ("50667", "50823", "51063"), 50.938, 6.960, "Europe/Berlin", "221"),
        City("Leipzig", "SN", ("04109", "04177", "04275"), 51.340, 12.375, "Europe/Berlin", "341"),
    ),
    first_names=("Anna", "Lukas", "Marie", "Felix", "Sophie", "Jonas", "Lea", "Paul", "Hannah", "Leon", "Mia",
                 "Elias", "Emma", "Finn", "Laura", "Moritz", "Clara", "Tim", "Johanna", "Ben"),
    last_names=("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Schulz",
                "Hoffmann", "Koch", "Richter", "Klein", "Wolf", "Schröder", "Neumann", "Braun", "Zimmermann"),
    streets=("Hauptstraße", "Bahnhofstraße", "Gartenweg", "Schulstraße", "Lindenallee", "Bergstraße",
             "Kirchplatz", "Goethestraße", "Ringstraße", "Am Markt"),
    house_number_first=False,
    company_forms=("GmbH", "UG", "KG", "GmbH & Co. KG"),
    access=(("ftth", "gpon", 50), ("dsl", None, 25), ("cable", "docsis3.1", 25)),
)  # fmt: skip

FRANCE = Country(
    code="FR", currency="EUR", tax_rate_bp=2000, dialing_code="+33",
    cities=(
        City("Paris", "IDF", ("75001", "75011", "75015", "75019"), 48.857, 2.352, "Europe/Paris", "1"),
        City("Lyon", "ARA", ("69001", "69003", "69007"), 45.764, 4.836, "Europe/Paris", "4"),
        City("Marseille", "PAC", ("13001", "13006", "13008"), 43.296, 5.370, "Europe/Paris", "4"),
        City("Toulouse", "OCC", ("31000", "31200", "31400"), 43.605, 1.444, "Europe/Paris", "5"),
        City("Lille", "HDF", ("59000", "59800"), 50.630, 3.060, "Europe/Paris", "3"),
    ),
    first_names=("Camille", "Louis", "Léa", "Hugo", "Chloé", "Jules", "Manon", "Lucas", "Inès", "Gabriel",
                 "Zoé", "Arthur", "Jade", "Raphaël", "Alice", "Nathan"),
    last_names=("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
                "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "Fournier"),
    streets=("rue de la République", "avenue Victor Hugo", "rue Pasteur", "boulevard Voltaire", "rue des Lilas",
             "rue Jean Jaurès", "place de la Mairie", "chemin des Vignes"),
    house_number_first=True,
    company_forms=("SAS", "SARL", "SA"),
    access=(("ftth", "gpon", 70), ("ftth", "xgs-pon", 10), ("dsl", None, 20)),
)  # fmt: skip

BRITAIN = Country(
    code="GB", currency="GBP", tax_rate_bp=2000, dialing_code="+44",
    cities=(
        City("London", "ENG", ("SW1A 2AA", "E1 6AN", "N1 9GU", "SE1 7PB"), 51.507, -0.128, "Europe/London", "20"),
        City("Manchester", "ENG", ("M1 1AE", "M4 5JD", "M20 2RN"), 53.481, -2.243, "Europe/London", "161"),
        City("Birmingham", "ENG", ("B1 1BB", "B15 2TT", "B29 6BD"), 52.486, -1.890, "Europe/London", "121"),
        City("Leeds", "ENG", ("LS1 4DY", "LS6 2AB"), 53.801, -1.549, "Europe/London", "113"),
        City("Glasgow", "SCT", ("G1 1XQ", "G12 8QQ"), 55.864, -4.252, "Europe/London", "141"),
    ),
    first_names=("Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Emily", "Noah", "Grace",
                 "Charlie", "Poppy", "Thomas", "Freya", "Oscar", "Evie"),
    last_names=("Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Evans", "Davies", "Thomas",
                "Roberts", "Johnson", "Walker", "Wright", "Robinson", "Thompson", "Hughes"),
    streets=("High Street", "Station Road", "Church Lane", "Victoria Road", "Park Avenue", "Mill Lane",
             "Kings Road", "The Crescent"),
    house_number_first=True,
    company_forms=("Ltd", "LLP", "plc"),
    access=(("ftth", "xgs-pon", 35), ("cable", "docsis3.1", 40), ("dsl", None, 25)),
)  # fmt: skip

UNITED_STATES = Country(
    code="US", currency="USD", tax_rate_bp=0, dialing_code="+1",
    cities=(
        City("New York", "NY", ("10001", "10027", "11201", "11375"), 40.713, -74.006, "America/New_York", "212"),
        City("Chicago", "IL", ("60601", "60614", "60647"), 41.878, -87.630, "America/Chicago", "312"),
        City("Austin", "TX", ("78701", "78704", "78745"), 30.267, -97.743, "America/Chicago", "512"),
        City("Denver", "CO", ("80202", "80205", "80220"), 39.739, -104.990, "America/Denver", "303"),
        City("Seattle", "WA", ("98101", "98103", "98122"), 47.606, -122.332, "America/Los_Angeles", "206"),
    ),
    first_names=("James", "Olivia", "Michael", "Emma", "William", "Sophia", "Ethan", "Ava", "Benjamin",
                 "Isabella", "Daniel", "Mia", "Henry", "Harper", "Jacob", "Evelyn"),
    last_names=("Johnson", "Smith", "Williams", "Brown", "Garcia", "Miller", "Davis", "Martinez", "Anderson",
                "Taylor", "Moore", "Jackson", "Lee", "Harris", "Clark", "Lewis"),
    streets=("Main Street", "Oak Avenue", "Maple Drive", "Pine Street", "Cedar Lane", "Elm Street",
             "Washington Avenue", "Lakeview Drive"),
    house_number_first=True,
    company_forms=("LLC", "Inc.", "Corp."),
    access=(("cable", "docsis3.1", 45), ("fiber", "xgs-pon", 30), ("wireless", "5g", 15), ("wireless", "lte", 10)),
)  # fmt: skip

COUNTRIES = (GERMANY, FRANCE, BRITAIN, UNITED_STATES)
# How many of the demo's customers live in each country.
COUNTRY_SHARES = {"DE": 0.34, "FR": 0.21, "GB": 0.23, "US": 0.22}

PARTNERS = (
    Partner("nordlicht", "Nordlicht Glasfaser GmbH", "nordlicht.example", {"DE": 0.50}),
    Partner("eurofibre", "EuroFibre Wholesale", "eurofibre.example", {"DE": 0.25, "FR": 0.60, "GB": 0.20}),
    Partner("albion", "Albion Broadband Ltd", "albion.example", {"GB": 0.55}),
    Partner("prairie", "Prairie Wireless LLC", "prairie.example", {"US": 0.70}),
)
DIRECT_REALM = "isp.example"  # customers the ISP sells to itself (no partner)
