"""Realistic sample leads for the demo and benchmarks: fixed by a seed, so every run is alike."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

FIRST = ["Dana", "Priya", "Marcus", "Elena", "Tomás", "Aiko", "Noah", "Fatima", "Liam", "Grace"]
LAST = ["Whitfield", "Raman", "Okafor", "Petrova", "García", "Tanaka", "Berg", "Haddad", "Chen"]
COMPANIES = [
    ("Northwind Traders", "Logistics", "201-500", "US"),
    ("Contoso Health", "Healthcare", "1001-5000", "US"),
    ("Fabrikam Robotics", "Manufacturing", "51-200", "DE"),
    ("Tailspin Toys", "Retail", "11-50", "GB"),
    ("Woodgrove Bank", "Financial services", "5001+", "US"),
    ("Litware Labs", "Software", "51-200", "FR"),
    ("Adatum Energy", "Energy", "501-1000", "CA"),
    ("Proseware", "Software", "11-50", "IN"),
]
TITLES = ["VP Sales", "Head of Operations", "CTO", "RevOps Manager", "Director of IT", "CFO"]
# (source, campaign, intent, signals behind it)
SOURCES = [
    ("website", "Pricing page", "pricing", ("pricing_page", "Viewed pricing 4 times this week")),
    ("website", "Demo form", "demo_request", ("demo_request", "Asked for a demo")),
    ("webinar", "Q4 Ops Webinar", "content", ("webinar", "Attended and asked two questions")),
    ("ebook", "State of RevOps 2026", "content", ("download", "Downloaded the e-book")),
    ("paid_search", "Brand keywords", "contact_sales", ("form", "Filled in Contact sales")),
    ("partner", "Partner referrals", "referral", ("referral", "Referred by a partner")),
]
BANT = {
    "budget": ["Approved for Q1", "Being planned", None],
    "authority": ["Decision maker", "Influencer", None],
    "need": ["Route planning", "Replace spreadsheets", "Faster handoff", None],
    "timeline": ["This quarter", "Next quarter", "This year", None],
}


def sample_leads(count: int, *, now: datetime, seed: int = 7) -> list[dict[str, Any]]:
    """`count` intake payloads with varied sources, intents, sizes and countries."""
    rng = random.Random(seed)
    leads = []
    for number in range(1, count + 1):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company, industry, size, country = rng.choice(COMPANIES)
        source, campaign, intent, (activity, detail) = rng.choice(SOURCES)
        domain = company.split()[0].lower()
        lead: dict[str, Any] = {
            "external_id": f"demo-{seed}-{number}",
            "name": f"{first} {last}",
            "email": f"{first.lower()}.{last.lower()}@{domain}.example",
            "title": rng.choice(TITLES),
            "company": company,
            "company_size": size,
            "industry": industry,
            "country": country,
            "source": source,
            "campaign": campaign,
            "intent": intent,
            "score": rng.randint(55, 99),
            "activities": [
                {
                    "type": activity,
                    "detail": detail,
                    "at": (now - timedelta(minutes=rng.randint(1, 600))).isoformat(),
                }
            ],
            "crm_url": f"https://crm.example/leads/{number}",
        }
        for field, choices in BANT.items():
            value = rng.choice(choices)
            if value is not None:
                lead[field] = value
        leads.append(lead)
    return leads
