"""Static reference data for the synthetic Olist generator.

Everything here is fixed knowledge about Brazil and the Olist catalogue (names, rough
shares, coordinates); nothing is random. The generative model's stages (see ``model.py``)
draw from these tables with the configured seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --------------------------------------------------------------------------------------
# Product categories
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Category:
    name: str
    english: str | None  # None: no row in product_category_name_translation.csv
    items: int  # approximate Olist order-item count: relative category size
    price_median: float  # R$, median product price in the category
    weight_median: float  # grams


# (portuguese, english, approx items in Olist, median price R$, median weight g)
_CATEGORY_ROWS: tuple[tuple[str, str | None, int, float, float], ...] = (
    ("cama_mesa_banho", "bed_bath_table", 11115, 70, 1500),
    ("beleza_saude", "health_beauty", 9670, 75, 500),
    ("esporte_lazer", "sports_leisure", 8641, 75, 800),
    ("moveis_decoracao", "furniture_decor", 8334, 65, 2000),
    ("informatica_acessorios", "computers_accessories", 7827, 65, 500),
    ("utilidades_domesticas", "housewares", 6964, 50, 900),
    ("relogios_presentes", "watches_gifts", 5991, 130, 300),
    ("telefonia", "telephony", 4545, 30, 200),
    ("ferramentas_jardim", "garden_tools", 4347, 65, 1500),
    ("automotivo", "auto", 4235, 70, 900),
    ("brinquedos", "toys", 4117, 75, 800),
    ("cool_stuff", "cool_stuff", 3796, 120, 1500),
    ("perfumaria", "perfumery", 3419, 80, 350),
    ("bebes", "baby", 3065, 80, 1500),
    ("eletronicos", "electronics", 2767, 35, 300),
    ("papelaria", "stationery", 2517, 50, 500),
    ("fashion_bolsas_e_acessorios", "fashion_bags_accessories", 2031, 40, 300),
    ("pet_shop", "pet_shop", 1947, 65, 1200),
    ("moveis_escritorio", "office_furniture", 1691, 180, 9000),
    ("consoles_games", "consoles_games", 1137, 70, 400),
    ("malas_acessorios", "luggage_accessories", 1092, 150, 3000),
    ("construcao_ferramentas_construcao", "construction_tools_construction", 929, 80, 1500),
    ("eletrodomesticos", "home_appliances", 771, 60, 1500),
    ("instrumentos_musicais", "musical_instruments", 680, 150, 1500),
    ("eletroportateis", "small_appliances", 679, 170, 3000),
    ("casa_construcao", "home_construction", 604, 90, 1800),
    ("livros_interesse_geral", "books_general_interest", 553, 45, 500),
    ("alimentos", "food", 510, 40, 700),
    ("moveis_sala", "furniture_living_room", 503, 120, 5000),
    ("casa_conforto", "home_confort", 434, 100, 2500),
    ("bebidas", "drinks", 379, 50, 1200),
    ("audio", "audio", 364, 70, 500),
    ("market_place", "market_place", 311, 70, 1000),
    ("construcao_ferramentas_iluminacao", "construction_tools_lights", 304, 70, 800),
    ("climatizacao", "air_conditioning", 297, 100, 3000),
    (
        "moveis_cozinha_area_de_servico_jantar_e_jardim",
        "kitchen_dining_laundry_garden_furniture",
        281,
        150,
        6000,
    ),
    ("alimentos_bebidas", "food_drink", 278, 40, 700),
    ("industria_comercio_e_negocios", "industry_commerce_and_business", 268, 100, 4000),
    ("livros_tecnicos", "books_technical", 267, 60, 600),
    ("telefonia_fixa", "fixed_telephony", 264, 90, 500),
    ("fashion_calcados", "fashion_shoes", 262, 90, 700),
    ("eletrodomesticos_2", "home_appliances_2", 238, 400, 8000),
    ("construcao_ferramentas_jardim", "costruction_tools_garden", 238, 80, 1500),
    ("agro_industria_e_comercio", "agro_industry_and_commerce", 212, 120, 3000),
    ("artes", "art", 209, 60, 700),
    ("pcs", "computers", 203, 1000, 6000),
    ("sinalizacao_e_seguranca", "signaling_and_security", 199, 60, 800),
    ("construcao_ferramentas_seguranca", "construction_tools_safety", 194, 100, 1500),
    ("artigos_de_natal", "christmas_supplies", 153, 50, 800),
    ("fashion_roupa_masculina", "fashion_male_clothing", 132, 60, 400),
    ("fashion_underwear_e_moda_praia", "fashion_underwear_beach", 131, 40, 200),
    ("moveis_quarto", "furniture_bedroom", 109, 150, 6000),
    ("construcao_ferramentas_ferramentas", "costruction_tools_tools", 103, 100, 1500),
    ("tablets_impressao_imagem", "tablets_printing_image", 83, 80, 400),
    ("portateis_casa_forno_e_cafe", "small_appliances_home_oven_and_coffee", 76, 400, 4000),
    ("cine_foto", "cine_photo", 72, 60, 500),
    ("dvds_blu_ray", "dvds_blu_ray", 64, 40, 200),
    ("livros_importados", "books_imported", 60, 60, 500),
    ("fashion_roupa_feminina", "fashio_female_clothing", 48, 60, 300),
    ("artigos_de_festas", "party_supplies", 43, 50, 500),
    ("fraldas_higiene", "diapers_and_hygiene", 39, 40, 1500),
    ("musica", "music", 38, 100, 800),
    ("moveis_colchao_e_estofado", "furniture_mattress_and_upholstery", 38, 100, 5000),
    ("flores", "flowers", 33, 30, 500),
    ("fashion_esporte", "fashion_sport", 30, 50, 300),
    ("casa_conforto_2", "home_comfort_2", 30, 40, 1000),
    ("artes_e_artesanato", "arts_and_craftmanship", 24, 60, 500),
    ("portateis_cozinha_e_preparadores_de_alimentos", None, 15, 150, 3000),
    ("la_cuisine", "la_cuisine", 14, 150, 2000),
    ("cds_dvds_musicais", "cds_dvds_musicals", 14, 50, 300),
    ("pc_gamer", None, 9, 150, 500),
    ("fashion_roupa_infanto_juvenil", "fashion_childrens_clothes", 8, 50, 300),
    ("seguros_e_servicos", "security_and_services", 2, 100, 300),
)

CATEGORIES: tuple[Category, ...] = tuple(Category(*row) for row in _CATEGORY_ROWS)

# The translation file is written in this order (descending size); its keys are unique.

# --------------------------------------------------------------------------------------
# States, zip ranges and cities
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class City:
    name: str  # Olist spelling: lower case, no accents
    accented: str  # the spelling with accents (used for messy variants)
    lat: float
    lng: float
    weight: float  # share of the state's zip codes/people


@dataclass(frozen=True)
class State:
    code: str
    customer_share: float  # percent of Olist customers
    seller_share: float  # percent of Olist sellers
    zip_low: int  # 5-digit zip prefix range, inclusive
    zip_high: int
    cities: tuple[City, ...]


def _c(name: str, lat: float, lng: float, weight: float, accented: str | None = None) -> City:
    return City(name, accented or name, lat, lng, weight)


STATES: tuple[State, ...] = (
    State(
        "SP",
        41.98,
        59.74,
        1000,
        19999,
        (
            _c("sao paulo", -23.55, -46.63, 0.42, "são paulo"),
            _c("campinas", -22.91, -47.06, 0.07),
            _c("guarulhos", -23.46, -46.53, 0.06),
            _c("santo andre", -23.66, -46.53, 0.05, "santo andré"),
            _c("sao bernardo do campo", -23.69, -46.56, 0.05, "são bernardo do campo"),
            _c("osasco", -23.53, -46.79, 0.05),
            _c("santos", -23.96, -46.33, 0.05),
            _c("sorocaba", -23.50, -47.46, 0.05),
            _c("ribeirao preto", -21.18, -47.81, 0.05, "ribeirão preto"),
            _c("sao jose dos campos", -23.18, -45.89, 0.05, "são josé dos campos"),
            _c("jundiai", -23.19, -46.88, 0.05, "jundiaí"),
            _c("franca", -20.54, -47.40, 0.05),
        ),
    ),
    State(
        "RJ",
        12.92,
        5.46,
        20000,
        28999,
        (
            _c("rio de janeiro", -22.91, -43.17, 0.55),
            _c("niteroi", -22.88, -43.10, 0.10, "niterói"),
            _c("nova iguacu", -22.76, -43.45, 0.08, "nova iguaçu"),
            _c("duque de caxias", -22.79, -43.31, 0.07),
            _c("sao goncalo", -22.83, -43.05, 0.08, "são gonçalo"),
            _c("petropolis", -22.51, -43.18, 0.06, "petrópolis"),
            _c("campos dos goytacazes", -21.75, -41.32, 0.06),
        ),
    ),
    State(
        "MG",
        11.70,
        7.88,
        30000,
        39999,
        (
            _c("belo horizonte", -19.92, -43.94, 0.40),
            _c("contagem", -19.93, -44.05, 0.10),
            _c("uberlandia", -18.92, -48.28, 0.12, "uberlândia"),
            _c("juiz de fora", -21.76, -43.35, 0.12),
            _c("betim", -19.97, -44.20, 0.08),
            _c("montes claros", -16.73, -43.86, 0.08),
            _c("uberaba", -19.75, -47.93, 0.10),
        ),
    ),
    State(
        "RS",
        5.50,
        4.01,
        90000,
        99999,
        (
            _c("porto alegre", -30.03, -51.23, 0.45),
            _c("caxias do sul", -29.17, -51.18, 0.15),
            _c("canoas", -29.92, -51.18, 0.10),
            _c("pelotas", -31.77, -52.34, 0.10),
            _c("santa maria", -29.68, -53.81, 0.10),
            _c("novo hamburgo", -29.68, -51.13, 0.10),
        ),
    ),
    State(
        "PR",
        5.07,
        11.28,
        80000,
        87999,
        (
            _c("curitiba", -25.43, -49.27, 0.45),
            _c("londrina", -23.31, -51.16, 0.15),
            _c("maringa", -23.42, -51.94, 0.15, "maringá"),
            _c("ponta grossa", -25.09, -50.16, 0.10),
            _c("cascavel", -24.96, -53.46, 0.08),
            _c("foz do iguacu", -25.55, -54.59, 0.07, "foz do iguaçu"),
        ),
    ),
    State(
        "SC",
        3.66,
        6.14,
        88000,
        89999,
        (
            _c("florianopolis", -27.60, -48.55, 0.30, "florianópolis"),
            _c("joinville", -26.30, -48.85, 0.25),
            _c("blumenau", -26.92, -49.07, 0.20),
            _c("sao jose", -27.61, -48.63, 0.10, "são josé"),
            _c("itajai", -26.91, -48.66, 0.08, "itajaí"),
            _c("chapeco", -27.10, -52.62, 0.07, "chapecó"),
        ),
    ),
    State(
        "BA",
        3.40,
        0.61,
        40000,
        48999,
        (
            _c("salvador", -12.97, -38.50, 0.55),
            _c("feira de santana", -12.27, -38.97, 0.15),
            _c("vitoria da conquista", -14.86, -40.84, 0.10, "vitória da conquista"),
            _c("camacari", -12.70, -38.32, 0.10, "camaçari"),
            _c("itabuna", -14.79, -39.28, 0.10),
        ),
    ),
    State(
        "DF",
        2.15,
        0.97,
        70000,
        72799,
        (
            _c("brasilia", -15.79, -47.88, 0.70, "brasília"),
            _c("taguatinga", -15.83, -48.06, 0.15),
            _c("ceilandia", -15.82, -48.11, 0.08, "ceilândia"),
            _c("gama", -16.02, -48.06, 0.07),
        ),
    ),
    State(
        "ES",
        2.04,
        0.74,
        29000,
        29999,
        (
            _c("vitoria", -20.32, -40.34, 0.30, "vitória"),
            _c("vila velha", -20.33, -40.29, 0.30),
            _c("serra", -20.13, -40.31, 0.20),
            _c("cariacica", -20.26, -40.42, 0.10),
            _c("cachoeiro de itapemirim", -20.85, -41.11, 0.10),
        ),
    ),
    State(
        "GO",
        2.03,
        1.29,
        72800,
        76799,
        (
            _c("goiania", -16.68, -49.25, 0.55, "goiânia"),
            _c("aparecida de goiania", -16.82, -49.24, 0.15, "aparecida de goiânia"),
            _c("anapolis", -16.33, -48.95, 0.15, "anápolis"),
            _c("rio verde", -17.80, -50.93, 0.15),
        ),
    ),
    State(
        "PE",
        1.66,
        0.29,
        50000,
        56999,
        (
            _c("recife", -8.05, -34.88, 0.50),
            _c("jaboatao dos guararapes", -8.11, -35.01, 0.15, "jaboatão dos guararapes"),
            _c("olinda", -8.01, -34.86, 0.12),
            _c("caruaru", -8.28, -35.97, 0.12),
            _c("petrolina", -9.39, -40.50, 0.11),
        ),
    ),
    State(
        "CE",
        1.34,
        0.42,
        60000,
        63999,
        (
            _c("fortaleza", -3.73, -38.53, 0.70),
            _c("caucaia", -3.74, -38.66, 0.10),
            _c("juazeiro do norte", -7.21, -39.31, 0.10),
            _c("sobral", -3.69, -40.35, 0.10),
        ),
    ),
    State(
        "PA",
        0.98,
        0.03,
        66000,
        68899,
        (
            _c("belem", -1.46, -48.50, 0.60, "belém"),
            _c("ananindeua", -1.37, -48.37, 0.15),
            _c("santarem", -2.44, -54.71, 0.13, "santarém"),
            _c("maraba", -5.37, -49.12, 0.12, "marabá"),
        ),
    ),
    State(
        "MT",
        0.91,
        0.13,
        78000,
        78899,
        (
            _c("cuiaba", -15.60, -56.10, 0.50, "cuiabá"),
            _c("varzea grande", -15.65, -56.13, 0.20, "várzea grande"),
            _c("rondonopolis", -16.47, -54.64, 0.15, "rondonópolis"),
            _c("sinop", -11.86, -55.50, 0.15),
        ),
    ),
    State(
        "MA",
        0.75,
        0.03,
        65000,
        65999,
        (
            _c("sao luis", -2.53, -44.30, 0.60, "são luís"),
            _c("imperatriz", -5.53, -47.48, 0.25),
            _c("caxias", -4.86, -43.36, 0.15),
        ),
    ),
    State(
        "MS",
        0.72,
        0.16,
        79000,
        79999,
        (
            _c("campo grande", -20.47, -54.62, 0.65),
            _c("dourados", -22.22, -54.81, 0.20),
            _c("tres lagoas", -20.75, -51.68, 0.15, "três lagoas"),
        ),
    ),
    State(
        "PB",
        0.54,
        0.19,
        58000,
        58999,
        (
            _c("joao pessoa", -7.12, -34.86, 0.60, "joão pessoa"),
            _c("campina grande", -7.23, -35.88, 0.30),
            _c("patos", -7.02, -37.28, 0.10),
        ),
    ),
    State(
        "PI",
        0.50,
        0.03,
        64000,
        64999,
        (
            _c("teresina", -5.09, -42.80, 0.75),
            _c("parnaiba", -2.91, -41.78, 0.25, "parnaíba"),
        ),
    ),
    State(
        "RN",
        0.49,
        0.16,
        59000,
        59999,
        (
            _c("natal", -5.79, -35.21, 0.70),
            _c("mossoro", -5.19, -37.34, 0.20, "mossoró"),
            _c("parnamirim", -5.91, -35.26, 0.10),
        ),
    ),
    State(
        "AL",
        0.41,
        0.0,
        57000,
        57999,
        (
            _c("maceio", -9.67, -35.74, 0.80, "maceió"),
            _c("arapiraca", -9.75, -36.66, 0.20),
        ),
    ),
    State(
        "SE",
        0.35,
        0.06,
        49000,
        49999,
        (
            _c("aracaju", -10.91, -37.07, 0.80),
            _c("nossa senhora do socorro", -10.86, -37.13, 0.20),
        ),
    ),
    State(
        "TO",
        0.28,
        0.0,
        77000,
        77999,
        (
            _c("palmas", -10.18, -48.33, 0.60),
            _c("araguaina", -7.19, -48.21, 0.40, "araguaína"),
        ),
    ),
    State(
        "RO",
        0.25,
        0.06,
        76800,
        76999,
        (
            _c("porto velho", -8.76, -63.90, 0.60),
            _c("ji-parana", -10.88, -61.95, 0.40, "ji-paraná"),
        ),
    ),
    State(
        "AM",
        0.15,
        0.03,
        69000,
        69299,
        (
            _c("manaus", -3.12, -60.02, 0.90),
            _c("parintins", -2.63, -56.74, 0.10),
        ),
    ),
    State(
        "AC",
        0.08,
        0.03,
        69900,
        69999,
        (
            _c("rio branco", -9.97, -67.81, 0.85),
            _c("cruzeiro do sul", -7.63, -72.67, 0.15),
        ),
    ),
    State(
        "AP",
        0.07,
        0.0,
        68900,
        68999,
        (
            _c("macapa", 0.03, -51.07, 0.85, "macapá"),
            _c("santana", -0.06, -51.17, 0.15),
        ),
    ),
    State("RR", 0.05, 0.0, 69300, 69399, (_c("boa vista", 2.82, -60.67, 1.00),)),
)

# --------------------------------------------------------------------------------------
# Calendar
# --------------------------------------------------------------------------------------

# Relative order level (plateau = 1), interpolated log-linearly between anchors and held
# constant outside them. Shape of Olist's monthly order counts.
TREND_ANCHORS: tuple[tuple[str, float], ...] = (
    ("2016-09-01", 0.003),
    ("2016-12-25", 0.003),
    ("2017-01-03", 0.03),
    ("2017-01-31", 0.20),
    ("2017-03-15", 0.36),
    ("2017-05-15", 0.50),
    ("2017-08-01", 0.60),
    ("2017-10-15", 0.70),
    ("2017-11-20", 0.85),
    ("2018-01-15", 0.98),
    ("2018-03-15", 1.00),
)

# Monday .. Sunday multipliers (Olist: Mon/Tue highest, Saturday lowest).
WEEKDAY_FACTORS = np.array([1.14, 1.13, 1.09, 1.05, 1.00, 0.76, 0.83])

# Share of orders by hour of day (Olist-like: quiet at night, plateau 10h-22h).
HOUR_WEIGHTS = np.array(
    [
        2.4,
        1.1,
        0.5,
        0.3,
        0.2,
        0.2,
        0.5,
        1.2,
        3.0,
        4.8,
        6.2,
        6.6,
        6.0,
        6.5,
        6.7,
        6.5,
        6.7,
        6.2,
        5.8,
        5.9,
        6.2,
        6.2,
        5.8,
        4.2,
    ]
)

# Multipliers for Brazilian national holidays.
FIXED_HOLIDAYS: tuple[tuple[int, int, float], ...] = (
    (1, 1, 0.50),  # Confraternização Universal
    (4, 21, 0.75),  # Tiradentes
    (5, 1, 0.70),  # Dia do Trabalho
    (9, 7, 0.75),  # Independência
    (10, 12, 0.75),  # Nossa Senhora Aparecida
    (11, 2, 0.75),  # Finados
    (11, 15, 0.75),  # Proclamação da República
    (12, 24, 0.70),  # Christmas Eve (not official, but quiet)
    (12, 25, 0.45),  # Natal
    (12, 31, 0.60),  # New Year's Eve
)
# Offsets from Easter Sunday.
EASTER_HOLIDAYS: tuple[tuple[int, float], ...] = (
    (-48, 0.65),  # Carnival Monday
    (-47, 0.60),  # Carnival Tuesday
    (-2, 0.70),  # Sexta-feira Santa (Good Friday)
    (60, 0.75),  # Corpus Christi
)
# Offsets from Black Friday (4th Friday of November).
BLACK_FRIDAY_EFFECTS: tuple[tuple[int, float], ...] = (
    (-4, 1.15),
    (-3, 1.15),
    (-2, 1.20),
    (-1, 1.35),
    (0, 3.80),
    (1, 2.00),  # Saturday
    (2, 1.70),  # Sunday
    (3, 1.50),  # Cyber Monday
)

# --------------------------------------------------------------------------------------
# Review texts (short Portuguese; some contain commas, quotes and newlines on purpose)
# --------------------------------------------------------------------------------------

REVIEW_TITLES_NEGATIVE = (
    "Não recebi",
    "Péssimo",
    "Produto errado",
    "Decepcionado",
    "Atraso na entrega",
    "Não recomendo",
)
REVIEW_TITLES_NEUTRAL = ("Razoável", "Ok", "Mais ou menos", "Regular")
REVIEW_TITLES_POSITIVE = (
    "Recomendo",
    "Ótimo",
    "Super recomendo",
    "Excelente",
    "Muito bom",
    "Adorei",
    "Chegou rápido",
)

REVIEW_MESSAGES_NEGATIVE = (
    "Não recebi o produto até agora.",
    "Comprei dois, mas só chegou um.",
    "Produto veio com defeito, quero devolver.",
    'Veio diferente do anúncio, "original" só no nome.',
    "Entrega muito atrasada, ninguém responde.\nPéssimo atendimento.",
    "O prazo de entrega não foi cumprido, estou aguardando.",
    "Produto de baixa qualidade, não recomendo.",
    "A embalagem chegou aberta e o produto riscado.",
)
REVIEW_MESSAGES_NEUTRAL = (
    "Produto ok, mas a entrega demorou.",
    "Chegou no prazo, porém a qualidade é mediana.",
    "É bom, mas esperava mais pelo preço.",
    'Cumpre o que promete, nada "de outro mundo".',
    "Razoável.",
)
REVIEW_MESSAGES_POSITIVE = (
    "Produto chegou antes do prazo, muito bom!",
    "Recomendo, excelente vendedor.",
    "Tudo certo, chegou bem embalado.",
    'Muito bom, "igual" à foto.',
    "Adorei o produto.\nEntrega rápida!",
    "Ótima qualidade, comprarei novamente.",
    "Entrega rápida e produto de qualidade.",
    "Chegou antes do prazo previsto.",
    "Bom",
    "Perfeito, recomendo a loja!",
)
