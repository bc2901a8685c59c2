"""accord as a service: REST API with roles, a job worker, and a dashboard.

    accord users create ada --role admin      # prints a token once
    accord serve --with-worker                # http://127.0.0.1:8000 (API docs at /docs)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/stats

``create_app`` builds the FastAPI application; ``Worker`` runs queued jobs.
"""
