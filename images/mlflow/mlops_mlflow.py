"""Entry points of the MLflow tracking-server image (components/trackingServer.ts renders them).

    python /opt/mlops/mlops_mlflow.py bootstrap-db      create/refresh the dedicated database role
    python /opt/mlops/mlops_mlflow.py db-upgrade        migrate the schema (what `mlflow db upgrade` does)
    python /opt/mlops/mlops_mlflow.py server ARGS...    exec `mlflow server ARGS...`
    python /opt/mlops/mlops_mlflow.py provision-users   basic-auth users and permissions (admin API)

Why a wrapper: the database password must reach MLflow without passing through Pulumi state, a
Kubernetes Secret or any process's argv. Each command reads the credentials of the dedicated role
from Secrets Manager with the pod's own AWS identity (Pod Identity), builds the SQLAlchemy URL
in memory (TLS `verify-full` against the RDS CA bundle baked into the image), and hands it to
MLflow through the environment (`mlflow server` reads MLFLOW_BACKEND_STORE_URI itself) or a
Python call (`db-upgrade`: `mlflow db upgrade` only takes the URL as an argument).

Environment (all rendered by the TrackingServer component):
  MLOPS_DB_HOST, MLOPS_DB_PORT, MLOPS_DB_NAME   the RDS endpoint and database
  MLOPS_DB_SECRET_ID        Secrets Manager secret of the dedicated role: {"username", "password"}
  MLOPS_DB_SSLROOTCERT      CA bundle that signs the server certificate (verify-full)
  bootstrap-db only:
  MLOPS_DB_MASTER_SECRET_ID the RDS-managed master secret (read only by the bootstrap's identity)
  MLOPS_DB_APP_USER         name of the dedicated role
  server with basic auth:
  MLFLOW_AUTH_CONFIG_PATH   where to write the auth app's ini (an emptyDir), with
  MLOPS_AUTH_DEFAULT_PERMISSION
  provision-users:
  MLOPS_TRACKING_URI, MLFLOW_TRACKING_USERNAME/PASSWORD (the admin), MLOPS_AUTH_USERS (JSON)
"""

import json
import os
import re
import secrets
import sys
import time
import urllib.parse

ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class ConfigError(Exception):
    pass


def env(name):
    value = os.environ.get(name, "")
    if not value:
        raise ConfigError(f"environment variable {name} is not set")
    return value


def secrets_client():
    import boto3

    return boto3.client("secretsmanager")


def read_secret(client, secret_id):
    """The JSON of a secret's current version, or None when it has no value yet."""
    try:
        value = client.get_secret_value(SecretId=secret_id)
    except client.exceptions.ResourceNotFoundException as e:
        # A secret without any version answers ResourceNotFound too ("... can't find the
        # specified secret value for staging label: AWSCURRENT").
        if "staging label" in str(e) or "secret value" in str(e):
            return None
        raise
    return json.loads(value["SecretString"])


def connection_target():
    cafile = env("MLOPS_DB_SSLROOTCERT")
    if not os.path.isfile(cafile):
        raise ConfigError(f"MLOPS_DB_SSLROOTCERT={cafile} is not a file (the RDS CA bundle)")
    port = env("MLOPS_DB_PORT")
    if not port.isdigit():
        raise ConfigError(f"MLOPS_DB_PORT must be a port number, got {port!r}")
    return env("MLOPS_DB_HOST"), int(port), env("MLOPS_DB_NAME"), cafile


def backend_store_uri():
    """postgresql+psycopg2://<role>:<password>@host:port/db?sslmode=verify-full&sslrootcert=<bundle>"""
    host, port, db, cafile = connection_target()
    creds = read_secret(secrets_client(), env("MLOPS_DB_SECRET_ID"))
    if not creds or not creds.get("username") or not creds.get("password"):
        raise ConfigError(
            f"secret {os.environ['MLOPS_DB_SECRET_ID']} holds no username/password yet: "
            "the database bootstrap Job writes it (kubectl logs job/<name>-db-bootstrap)"
        )
    user = urllib.parse.quote(creds["username"], safe="")
    password = urllib.parse.quote(creds["password"], safe="")
    query = urllib.parse.urlencode({"sslmode": "verify-full", "sslrootcert": cafile})
    return f"postgresql+psycopg2://{user}:{password}@{host}:{port}/{db}?{query}"


def bootstrap_db():
    """Runs with the master credentials; creates (or re-keys) the dedicated role and its grants.

    The role's password is generated here, stored first in its Secrets Manager secret (so a retry
    after a failure reuses it), then set on the role: it exists only in Secrets Manager and in
    PostgreSQL (as a SCRAM verifier), never in Pulumi state or a Kubernetes object.
    """
    import psycopg2
    from psycopg2 import sql

    host, port, db, cafile = connection_target()
    app_user = env("MLOPS_DB_APP_USER")
    if not ROLE_NAME.match(app_user):
        raise ConfigError(f"MLOPS_DB_APP_USER must be a lower-case PostgreSQL identifier, got {app_user!r}")
    client = secrets_client()
    master = read_secret(client, env("MLOPS_DB_MASTER_SECRET_ID"))
    if not master or not master.get("password"):
        raise ConfigError(f"master secret {os.environ['MLOPS_DB_MASTER_SECRET_ID']} holds no password")
    if master.get("username") == app_user:
        raise ConfigError(f"MLOPS_DB_APP_USER={app_user} is the master user; the application needs its own role")
    app_secret_id = env("MLOPS_DB_SECRET_ID")
    app = read_secret(client, app_secret_id)
    if not app or app.get("username") != app_user or not app.get("password"):
        app = {"username": app_user, "password": secrets.token_urlsafe(32)}
        client.put_secret_value(SecretId=app_secret_id, SecretString=json.dumps(app))
        print(f"bootstrap-db: stored new credentials of role {app_user} in {app_secret_id}", flush=True)

    conn = psycopg2.connect(
        host=host, port=port, dbname=db, user=master["username"], password=master["password"],
        sslmode="verify-full", sslrootcert=cafile, connect_timeout=10,
    )
    conn.autocommit = True
    role, database = sql.Identifier(app_user), sql.Identifier(db)
    with conn.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (app_user,))
        verb = "ALTER" if cur.fetchone() else "CREATE"
        # No CREATEDB / CREATEROLE (nor replication: a new role has none, and only a superuser
        # could grant it); a bounded number of connections (workers x pool, room for a rollout).
        cur.execute(
            sql.SQL(verb + " ROLE {} WITH LOGIN NOCREATEDB NOCREATEROLE CONNECTION LIMIT 100 PASSWORD %s").format(role),
            (app["password"],),
        )
        # Only the owner (master) and the dedicated role may connect to the MLflow database.
        cur.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
        cur.execute(sql.SQL("GRANT CONNECT, TEMPORARY ON DATABASE {} TO {}").format(database, role))
        # MLflow creates and migrates its tables in `public` (from PostgreSQL 15 only the database
        # owner may create there by default); the tables it creates are then its own.
        cur.execute(sql.SQL("GRANT USAGE, CREATE ON SCHEMA public TO {}").format(role))
    conn.close()
    done = "created" if verb == "CREATE" else "updated"
    print(f"bootstrap-db: role {app_user} {done} with access to database {db} only", flush=True)


def check_tls(uri):
    """One connection attempt: a certificate that fails verify-full is a configuration error that
    MLflow's connection retries (minutes) would only hide."""
    import psycopg2
    import sqlalchemy

    url = sqlalchemy.engine.make_url(uri)
    try:
        psycopg2.connect(host=url.host, port=url.port, dbname=url.database, user=url.username, password=url.password,
                         sslmode="verify-full", sslrootcert=url.query["sslrootcert"], connect_timeout=10).close()
    except psycopg2.OperationalError as e:
        if "certificate" in str(e) or "SSL" in str(e):
            raise ConfigError(f"TLS to {url.host}:{url.port} failed verification against MLOPS_DB_SSLROOTCERT: {str(e).strip()}")
        # Anything else (database still starting, ...) is left to MLflow's retries.


def db_upgrade():
    # What `mlflow db upgrade <url>` does (mlflow/db.py of the pinned MLflow), with the URL from
    # memory instead of argv.
    import mlflow.store.db.utils as db_utils

    uri = backend_store_uri()
    check_tls(uri)
    engine = db_utils.create_sqlalchemy_engine_with_retry(uri)
    if db_utils._is_empty_database(engine):
        db_utils._initialize_tables(engine)
    else:
        db_utils._upgrade_db(engine)
    engine.dispose()
    print("db-upgrade: schema at head", flush=True)


def auth_ini(database_uri, default_permission):
    # configparser interpolation: a literal % is written %%.
    return "\n".join([
        "[mlflow]",
        f"default_permission = {default_permission}",
        f"database_uri = {database_uri.replace('%', '%%')}",
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
        "",
    ])


def server(args):
    uri = backend_store_uri()
    check_tls(uri)
    os.environ["MLFLOW_BACKEND_STORE_URI"] = uri
    ini_path = os.environ.get("MLFLOW_AUTH_CONFIG_PATH")
    if ini_path:
        permission = env("MLOPS_AUTH_DEFAULT_PERMISSION")
        fd = os.open(ini_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(auth_ini(uri, permission))
    if "--backend-store-uri" in args:
        raise ConfigError("the backend store URI comes from Secrets Manager, not from --backend-store-uri")
    os.execvp("mlflow", ["mlflow", "server", *args])


def provision_users():
    """Creates the basic-auth users and their permissions through the auth app's REST API."""
    import requests

    base = env("MLOPS_TRACKING_URI").rstrip("/")
    admin = (env("MLFLOW_TRACKING_USERNAME"), env("MLFLOW_TRACKING_PASSWORD"))
    users = json.loads(env("MLOPS_AUTH_USERS"))
    session = requests.Session()
    session.auth = admin

    def call(method, path, **kw):
        for attempt in range(30):
            try:
                r = session.request(method, f"{base}{path}", timeout=30, **kw)
            except requests.ConnectionError:
                time.sleep(2)
                continue
            if r.status_code >= 500 and attempt < 29:
                time.sleep(2)
                continue
            return r
        raise RuntimeError(f"{method} {base}{path}: server not reachable")

    def ensure(r, what, ok=(200,), exists=("RESOURCE_ALREADY_EXISTS",)):
        if r.status_code in ok:
            return
        try:
            code = r.json().get("error_code")
        except ValueError:
            code = None
        if code in exists:
            return
        raise RuntimeError(f"{what}: HTTP {r.status_code} {r.text[:300]}")

    def grant(name, resource_type, resource_id, permission, what):
        """One grant on the user (MLflow 3 unified permissions API); an existing different one is replaced."""
        body = {"username": name, "resource_type": resource_type, "resource_id": resource_id, "permission": permission}
        r = call("POST", "/api/3.0/mlflow/users/permissions/grant", json=body)
        if r.status_code == 200:
            return
        ensure(r, what)
        current = call("GET", "/api/3.0/mlflow/users/permissions/get",
                       params={"username": name, "resource_type": resource_type, "resource_id": resource_id})
        ensure(current, f"read {what}")
        if current.json().get("permission") != permission:
            ensure(call("POST", "/api/3.0/mlflow/users/permissions/revoke", json={k: body[k] for k in ("username", "resource_type", "resource_id")}), f"revoke {what}")
            ensure(call("POST", "/api/3.0/mlflow/users/permissions/grant", json=body), what, exists=())

    for u in users:
        name = u["username"]
        secret_name = os.environ.get(u["usernameEnv"], "")
        if secret_name != name:
            raise ConfigError(f"the Secret of MLflow user {name} holds username {secret_name!r}: they must be equal (the gate checks runs against {name})")
        password = os.environ[u["passwordEnv"]]
        r = call("POST", "/api/2.0/mlflow/users/create", json={"username": name, "password": password})
        if r.status_code != 200:
            ensure(r, f"create user {name}")
            # Exists: make the password the one in the user's Secret.
            ensure(call("PATCH", "/api/2.0/mlflow/users/update-password", json={"username": name, "password": password}), f"password of {name}", exists=())
        for exp in u.get("experiments", []):
            r = call("GET", "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": exp["name"]})
            if r.status_code == 200:
                exp_id = r.json()["experiment"]["experiment_id"]
            else:
                r = call("POST", "/api/2.0/mlflow/experiments/create", json={"name": exp["name"]})
                ensure(r, f"create experiment {exp['name']}", exists=())
                exp_id = r.json()["experiment_id"]
            grant(name, "experiment", exp_id, exp["permission"], f"{exp['permission']} on experiment {exp['name']} for {name}")
        for model in u.get("registeredModels", []):
            r = call("GET", "/api/2.0/mlflow/registered-models/get", params={"name": model["name"]})
            if r.status_code != 200:
                ensure(call("POST", "/api/2.0/mlflow/registered-models/create", json={"name": model["name"]}), f"create model {model['name']}")
            grant(name, "registered_model", model["name"], model["permission"], f"{model['permission']} on model {model['name']} for {name}")
        print(f"provision-users: {name} ok", flush=True)


def main(argv):
    if len(argv) < 2 or argv[1] not in ("bootstrap-db", "db-upgrade", "server", "provision-users"):
        print("usage: mlops_mlflow.py bootstrap-db | db-upgrade | server ARGS... | provision-users", file=sys.stderr)
        return 2
    try:
        if argv[1] == "bootstrap-db":
            bootstrap_db()
        elif argv[1] == "db-upgrade":
            db_upgrade()
        elif argv[1] == "server":
            server(argv[2:])
        else:
            provision_users()
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
