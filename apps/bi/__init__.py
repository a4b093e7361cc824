"""What BI tools read: the tables analysts and marketing open (``tables``), Tableau's Hyper
extracts (``hyper``) and live data sources (``tds``), written by ``tableau.export_tableau``."""
