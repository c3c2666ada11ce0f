"""Rebuild the sample PDFs in examples/ (needs `pip install reportlab`; not a runtime dependency).

The texts are fictional, written for this project.
"""

from pathlib import Path

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

ENGAGEMENT = [
    ("h", "Harbor &amp; Vale LLP"),
    ("p", "200 Wharf Street, Boston, MA 02110"),
    ("p", "2 June 2025"),
    ("p", "Ms. Elena Park, General Counsel, Northwind Logistics Inc., 55 Commerce Way, Newark, NJ 07102"),
    ("h", "Re: Engagement Letter"),
    ("p", "Dear Ms. Park, thank you for choosing Harbor &amp; Vale LLP to represent Northwind Logistics Inc. "
          "(\"Northwind\") in its acquisition of the warehousing business of Coastal Freight Partners LLC. "
          "This letter sets out the scope of our engagement and the terms on which we will act."),
    ("h", "1. Scope of the engagement"),
    ("p", "We will advise Northwind on the negotiation and documentation of the asset purchase agreement, "
          "carry out legal due diligence on the target's real estate leases and customer contracts, and "
          "prepare the closing documents. The engagement does not include tax advice, antitrust filings or litigation."),
    ("h", "2. Staffing"),
    ("p", "Jonathan Reyes, partner, will lead the engagement, assisted by senior associate Priya Natarajan."),
    ("h", "3. Fees and retainer"),
    ("p", "Our fees are based on the time spent. Current hourly rates are USD 950 for Mr. Reyes, USD 640 for "
          "senior associates, USD 420 for junior associates and USD 260 for paralegals. Rates are reviewed each January."),
    ("p", "Northwind will pay an advance retainer of USD 25,000 before work begins. The retainer is held in our "
          "client trust account and applied to the final invoice."),
    ("break", ""),
    ("h", "4. Invoices"),
    ("p", "We invoice monthly. Invoices are payable within thirty (30) days of receipt. Amounts unpaid after "
          "sixty (60) days bear interest at one percent (1%) per month."),
    ("h", "5. Conflicts of interest"),
    ("p", "Our conflict search found no conflict of interest. We have not represented Coastal Freight Partners LLC."),
    ("h", "6. Termination"),
    ("p", "Northwind may end this engagement at any time by written notice. We may end it on thirty (30) days' "
          "written notice if invoices remain unpaid or if a conflict of interest arises. Fees for work done "
          "before termination remain payable."),
    ("h", "7. Governing law"),
    ("p", "This engagement letter is governed by the laws of the Commonwealth of Massachusetts. Any fee dispute "
          "will first be submitted to the fee arbitration program of the Massachusetts Bar Association."),
    ("p", "Please sign and return a copy of this letter to confirm the engagement."),
    ("p", "Sincerely, Jonathan Reyes, Partner"),
]

MSA = [
    ("h", "Master Services Agreement"),
    ("p", "This Master Services Agreement (the \"Agreement\") is entered into on 1 March 2024 (the \"Effective Date\") "
          "between Acme Analytics Ltd., a Delaware corporation (\"Provider\"), and Bluefield Savings Bank, "
          "a New York chartered bank (\"Customer\")."),
    ("h", "1. Services"),
    ("p", "Provider will supply the fraud-detection analytics services described in each Statement of Work. "
          "Each Statement of Work is governed by this Agreement."),
    ("h", "2. Term and renewal"),
    ("p", "The initial term of this Agreement is three (3) years from the Effective Date. It renews automatically "
          "for successive one (1) year terms unless either party gives written notice of non-renewal at least "
          "ninety (90) days before the end of the then-current term."),
    ("h", "3. Fees"),
    ("p", "Customer will pay the fees set out in each Statement of Work within forty-five (45) days of invoice. "
          "Provider may raise its fees once a year by no more than three percent (3%)."),
    ("break", ""),
    ("h", "4. Confidentiality"),
    ("p", "Each party will keep the other party's Confidential Information secret and use it only to perform "
          "this Agreement. These obligations survive for five (5) years after the Agreement ends. Customer "
          "data, including account and transaction data, remains Confidential Information indefinitely."),
    ("h", "5. Data protection"),
    ("p", "Provider will process Customer data only inside data centres located in the United States, will "
          "encrypt it at rest and in transit, and will notify Customer of any security breach affecting "
          "Customer data within forty-eight (48) hours of discovering it."),
    ("h", "6. Limitation of liability"),
    ("p", "Except for breach of confidentiality or data protection obligations, each party's total liability under "
          "this Agreement is limited to the fees paid by Customer in the twelve (12) months before the claim arose. "
          "Neither party is liable for indirect or consequential damages."),
    ("break", ""),
    ("h", "7. Termination"),
    ("p", "Customer may terminate this Agreement for convenience on ninety (90) days' written notice. Either party may "
          "terminate immediately if the other party materially breaches this Agreement and fails to cure the breach "
          "within thirty (30) days of written notice."),
    ("h", "8. Governing law and disputes"),
    ("p", "This Agreement is governed by the laws of the State of Delaware. The parties submit to the exclusive "
          "jurisdiction of the state and federal courts located in Wilmington, Delaware."),
    ("h", "9. Notices"),
    ("p", "Notices must be in writing and delivered to the addresses on the signature page, with a copy to each "
          "party's legal department."),
    ("p", "Signed for Acme Analytics Ltd. by Martin Cole, Chief Executive Officer, and for Bluefield Savings Bank "
          "by Grace Liu, Chief Operating Officer."),
]


def build(name: str, blocks: list[tuple[str, str]], title: str) -> None:
    styles = getSampleStyleSheet()
    story = []
    for kind, text in blocks:
        if kind == "break":
            story.append(PageBreak())
        else:
            story.append(Paragraph(text, styles["Heading2" if kind == "h" else "BodyText"]))
            story.append(Spacer(1, 6))
    doc = SimpleDocTemplate(str(EXAMPLES / name), pagesize=LETTER, title=title,
                            author="Harbor & Vale LLP", invariant=True)
    doc.build(story)


if __name__ == "__main__":
    build("engagement-letter-northwind.pdf", ENGAGEMENT, "Engagement Letter - Northwind Logistics")
    build("master-services-agreement-acme-bluefield.pdf", MSA, "Master Services Agreement - Acme / Bluefield")
