"""`copilot review`: the same questions over many documents, as a grid of quoted answers.

    columns  a column is a field name ("Payment terms") or a question; one rule makes a
             question of a field name, whatever the field
    grid     the rows (documents a reader may read), the cells, and `Review`, which answers the
             missing cells through the engine contract, each from its own document alone
    store    one review's answered cells, saved cell by cell (a killed run resumes; a changed
             document or a new column is all that is asked again)
    export   the grid as XLSX, CSV, Markdown or JSON, every cell with its quote and citation
    desk     where a review is opened: this machine's folder, or the firm's server that keeps it
             (`ServedReview`: the same grid, its cells asked and signed on the server)

It speaks to an engine only through `copilot.core.contract.Engine`: the same `ask` as a single
question, kept to one document, so each cell has the evidence, grounding and decision of an answer.
"""
