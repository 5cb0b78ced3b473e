"""Name and list pools for the generated company (plain data, kept out of the generator)."""

from __future__ import annotations

FIRST_NAMES: tuple[str, ...] = (
    "Alice", "Ben", "Chloe", "Daniel", "Emma", "Farid", "Grace", "Hugo", "Isla", "Jack",
    "Kavya", "Liam", "Maya", "Noah", "Olivia", "Priya", "Quentin", "Rosa", "Samir", "Tara",
    "Umar", "Vera", "William", "Ximena", "Yusuf", "Zara", "Aaron", "Bella", "Carlos", "Dana",
    "Elena", "Felix", "Gina", "Henry", "Ivy", "Jonas", "Kira", "Leo", "Mia", "Nina",
    "Oscar", "Paula", "Rafael", "Sofia", "Tom", "Uma", "Victor", "Wendy", "Yara", "Zoe",
)  # fmt: skip
SURNAMES: tuple[str, ...] = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Robinson", "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall",
    "Wood", "Jackson", "Clarke", "Khan", "Lewis", "Harris", "Martin", "Cohen", "Levi",
    "Garcia", "Martinez", "Rossi", "Muller", "Schmidt", "Dubois", "Moreau", "Novak", "Silva",
    "Santos", "Nguyen", "Kim", "Park", "Singh", "Ali", "Hughes", "Edwards", "Turner", "Cooper",
)  # fmt: skip
# (first, surname, ASCII first, ASCII surname): names real tenants have, with the email
# alias an IT team would have chosen.
NON_LATIN_NAMES: tuple[tuple[str, str, str, str], ...] = (
    ("芳", "王", "fang", "wang"),
    ("さくら", "佐藤", "sakura", "sato"),
    ("Анна", "Иванова", "anna", "ivanova"),
    ("Νίκος", "Παπαδόπουλος", "nikos", "papadopoulos"),
    ("محمد", "العلي", "mohammed", "alali"),
    ("יעל", "כהן", "yael", "cohen"),
    ("Zoë", "Łukasiewicz", "zoe", "lukasiewicz"),
    ("José", "Muñoz", "jose", "munoz"),
    ("Søren", "Kierkegård", "soren", "kierkegard"),
    ("Antonín", "Dvořák", "antonin", "dvorak"),
    ("민준", "김", "minjun", "kim"),
    ("Ayşe", "Yılmaz", "ayse", "yilmaz"),
)
TITLES: tuple[str, ...] = (
    "Chief Executive Officer", "Software Engineer", "Senior Software Engineer",
    "Engineering Manager", "Product Manager", "Product Designer", "Data Analyst",
    "Data Scientist", "Account Executive", "Sales Manager", "Customer Success Manager",
    "Support Specialist", "HR Business Partner", "Recruiter", "Finance Manager", "Accountant",
    "Office Manager", "Marketing Manager", "Content Writer", "QA Engineer", "DevOps Engineer",
    "Security Engineer", "Legal Counsel", "Operations Lead", "Team Lead",
)  # fmt: skip
DEPARTMENTS: tuple[str, ...] = (
    "Management", "Engineering", "Product", "Design", "Data", "Sales", "Customer Success",
    "Support", "People", "Finance", "Marketing", "Legal", "Operations",
)  # fmt: skip
SITES: tuple[str, ...] = (
    "London", "Tel Aviv", "New York", "Berlin", "Amsterdam", "Remote - UK", "Remote - US",
    "Sydney",
)  # fmt: skip
TEAMS: tuple[str, ...] = (
    "Platform", "Payments", "Growth", "Mobile", "Web", "Infrastructure", "Insights",
    "Enterprise", "SMB", "Onboarding", "Talent", "Brand", "Revenue Ops", "Core API",
)  # fmt: skip
GROUPS: tuple[str, ...] = (
    "Social Committee", "Green Team", "Mentors", "First Aiders", "Book Club", "Running Club",
    "Women in Tech", "Pride Network", "Parents", "Wellbeing Champions",
)  # fmt: skip
# Each site's country (address.country) and the employment types (payroll.employment.type):
# derived, not drawn, so adding them changed no generated company.
COUNTRY_OF_SITE: dict[str, str] = {
    "London": "United Kingdom", "Remote - UK": "United Kingdom", "Berlin": "Germany",
    "Tel Aviv": "Israel", "New York": "United States", "Remote - US": "United States",
    "Amsterdam": "Netherlands", "Sydney": "Australia",
}  # fmt: skip
COUNTRIES: tuple[str, ...] = tuple(dict.fromkeys(COUNTRY_OF_SITE.values()))
EMPLOYMENT_TYPES: tuple[str, ...] = ("Full-time", "Part-time", "Contractor")
