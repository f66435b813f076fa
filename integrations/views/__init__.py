"""Every non-API screen: the admin's provider pages (dashboard, migration wizard — one view per
action —, provider detail, migration history, cost analytics), the pairing JSON behind the
WhatsApp Web snippet, and the providers' webhook endpoint. Views are thin: they find what the
user may see (``access``), call one service or selector, and render (``presenters``, ``charts``).
All of their URLs are in ``urls``."""
