"""Versioned schema migrations of the SQLite store: append, never edit a shipped one."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: initial schema
    """
    CREATE TABLE users (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, pw_hash TEXT NOT NULL, created_at REAL NOT NULL
    );
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, host TEXT NOT NULL, repo TEXT NOT NULL,
        repo_key TEXT NOT NULL, created_at REAL NOT NULL, ended_at REAL,
        last_seq INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE members (
        session_id TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
        joined_at REAL NOT NULL, removed_at REAL, PRIMARY KEY (session_id, user_id)
    );
    CREATE INDEX members_user ON members (user_id);
    CREATE TABLE invites (
        id TEXT PRIMARY KEY, session_id TEXT NOT NULL, token TEXT NOT NULL UNIQUE,
        role TEXT NOT NULL, created_by TEXT NOT NULL, created_at REAL NOT NULL,
        expires_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,
        uses INTEGER NOT NULL DEFAULT 0, max_uses INTEGER
    );
    CREATE INDEX invites_session ON invites (session_id);
    CREATE TABLE actions (
        client_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, session_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL, seq INTEGER NOT NULL
    );
    CREATE TABLE events (
        session_id TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
        audience TEXT, data TEXT NOT NULL, PRIMARY KEY (session_id, seq)
    );
    CREATE TABLE chat (
        id TEXT PRIMARY KEY, session_id TEXT NOT NULL, seq INTEGER NOT NULL,
        audience TEXT, data TEXT NOT NULL
    );
    CREATE INDEX chat_session_seq ON chat (session_id, seq);
    CREATE TABLE threads (
        id TEXT PRIMARY KEY, session_id TEXT NOT NULL, repo_key TEXT NOT NULL,
        created_at REAL NOT NULL, data TEXT NOT NULL
    );
    CREATE INDEX threads_repo ON threads (repo_key, created_at);
    CREATE TABLE comments (
        id TEXT PRIMARY KEY, thread_id TEXT NOT NULL, created_at REAL NOT NULL,
        data TEXT NOT NULL
    );
    CREATE INDEX comments_thread ON comments (thread_id, created_at);
    CREATE TABLE mentions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, user_id TEXT NOT NULL, session_id TEXT NOT NULL,
        seq INTEGER NOT NULL, delivered INTEGER NOT NULL DEFAULT 0, data TEXT NOT NULL
    );
    CREATE INDEX mentions_pending ON mentions (user_id, session_id, delivered);
    CREATE TABLE event_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, kind TEXT NOT NULL,
        actor TEXT NOT NULL, at REAL NOT NULL, subject TEXT, detail TEXT
    );
    CREATE INDEX event_log_session ON event_log (session_id, id);
    """,
    # 2: projects. Access to threads follows project membership, never a repository key.
    # Each (host, repo_key) group of sessions becomes one project owned by that host; each
    # thread goes to the project of the session it was created in; the members of a project
    # are the members of its sessions (removed everywhere: recorded as removed).
    """
    CREATE TABLE projects (
        id TEXT PRIMARY KEY, owner TEXT NOT NULL, repo_key TEXT NOT NULL,
        created_at REAL NOT NULL
    );
    CREATE INDEX projects_owner_repo ON projects (owner, repo_key, created_at);
    CREATE TABLE project_members (
        project_id TEXT NOT NULL, user_id TEXT NOT NULL, granted_at REAL NOT NULL,
        removed_at REAL, PRIMARY KEY (project_id, user_id)
    );
    CREATE INDEX project_members_user ON project_members (user_id);
    ALTER TABLE sessions ADD COLUMN project_id TEXT;
    ALTER TABLE threads ADD COLUMN project_id TEXT;
    INSERT INTO projects (id, owner, repo_key, created_at)
        SELECT lower(hex(randomblob(16))), host, repo_key, min(created_at)
        FROM sessions GROUP BY host, repo_key;
    UPDATE sessions SET project_id = (
        SELECT p.id FROM projects p WHERE p.owner = sessions.host
        AND p.repo_key = sessions.repo_key);
    UPDATE threads SET project_id = (
        SELECT s.project_id FROM sessions s WHERE s.id = threads.session_id);
    INSERT INTO project_members (project_id, user_id, granted_at, removed_at)
        SELECT s.project_id, m.user_id, min(m.joined_at), NULL
        FROM members m JOIN sessions s ON s.id = m.session_id
        WHERE m.removed_at IS NULL GROUP BY s.project_id, m.user_id;
    INSERT OR IGNORE INTO project_members (project_id, user_id, granted_at, removed_at)
        SELECT s.project_id, m.user_id, min(m.joined_at), max(m.removed_at)
        FROM members m JOIN sessions s ON s.id = m.session_id
        GROUP BY s.project_id, m.user_id;
    CREATE INDEX sessions_project ON sessions (project_id);
    CREATE INDEX threads_project ON threads (project_id, created_at);
    """,
]
