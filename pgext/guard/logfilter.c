/*-------------------------------------------------------------------------
 *
 * logfilter.c
 *	  No password in the server log.
 *
 * PostgreSQL writes statement texts to its log in many places: the
 * STATEMENT line of an error (log_min_error_statement), "statement: ..."
 * (log_statement), "duration: ... statement: ..." (log_min_duration_
 * statement), the CONTEXT and QUERY lines of errors inside functions (PL/
 * pgSQL's "SQL statement ..."), the token a syntax error echoes, bind
 * parameters in DETAIL. An emit_log_hook sees every message on its way to
 * the server log and, when it may carry a secret, hides:
 *  - the STATEMENT and CONTEXT lines (hide_stmt, hide_ctx: the client still
 *    gets its own context);
 *  - the internal query (QUERY line) and the detail (bind parameters,
 *    libpq's messages);
 *  - the arguments of the primary message (their places show ***) of log
 *    messages (they quote the statement) and of errors that echo a token
 *    or value (syntax errors, bad input, bad escapes, connection strings).
 *
 * A message may carry a secret when the statement being run, the internal
 * query, the context, the arguments of the message or the detail of a log
 * line (bind parameters) mention "password" (any case) or hold a URI with
 * credentials (scheme://user:secret@host), or
 * when the statement being run executed a password command, however it
 * spelt it (noted by the ProcessUtility hook: EXECUTE 'ALTER ROLE x PASS'
 * || 'WORD ...', a function taking the password as an argument). Hiding
 * more than needed is fine; hiding less is not.
 *
 * A statement that builds SQL at run time (DO, EXECUTE) may spell a password
 * command so that its text never says "password" ('PASS' || 'WORD ...'): the
 * log lines that quote it (log_statement, pgaudit's AUDIT lines) show its
 * string literals as ***.
 *
 * Left: log_statement and pgaudit write a statement before it runs, so a
 * statement whose text neither says "password" nor holds a URI nor builds
 * SQL (the password passed to a function, say) is logged as sent, and so are
 * its bind parameters with pgaudit.log_parameter.
 *
 * The hook never raises an error: it allocates with MCXT_ALLOC_NO_OOM and
 * blanks what it cannot replace, and it does not run while it is running.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "common/hashfn.h"
#include "nodes/parsenodes.h"
#include "tcop/tcopprot.h"
#include "utils/elog.h"
#include "utils/memutils.h"

#include "guard.h"

static emit_log_hook_type prev_emit_log_hook = NULL;
static bool in_hook = false;

/* The last statement that ran a password command: its length and hash. */
static bool noted = false;
static size_t noted_len;
static uint32 noted_hash;

static const char *const secret_word = "password";

static bool
mentions_word(const char *s)
{
	size_t		len = strlen(secret_word);

	if (s == NULL)
		return false;
	for (; *s; s++)
		if (pg_strncasecmp(s, secret_word, len) == 0)
			return true;
	return false;
}

/* scheme://user:secret@host: an '@' after "://" before the URI ends. */
static bool
has_uri_credentials(const char *s)
{
	if (s == NULL)
		return false;
	while ((s = strstr(s, "://")) != NULL)
	{
		for (s += 3; *s && !isspace((unsigned char) *s) &&
			 *s != '\'' && *s != '"'; s++)
			if (*s == '@')
				return true;
	}
	return false;
}

static bool
mentions_secret(const char *s)
{
	return mentions_word(s) || has_uri_credentials(s);
}

/*
 * Do the message's arguments mention a password? Not its own text: "password
 * authentication failed for user ..." carries none, and keeps its details
 * (which pg_hba.conf line, why) for whoever reads the log.
 */
static bool
arguments_mention_secret(const ErrorData *edata)
{
	const char *m = edata->message;
	const char *f = edata->message_id;
	int			in_message = 0;
	int			in_format = 0;
	size_t		len = strlen(secret_word);

	if (m == NULL)
		return false;
	if (has_uri_credentials(m))
		return true;
	for (; *m; m++)
		in_message += pg_strncasecmp(m, secret_word, len) == 0;
	for (; f && *f; f++)
		in_format += pg_strncasecmp(f, secret_word, len) == 0;
	return in_message > in_format;
}

static bool
statement_was_noted(const char *s)
{
	size_t		len;

	if (!noted || s == NULL)
		return false;
	len = strlen(s);
	return len == noted_len &&
		hash_bytes((const unsigned char *) s, (int) len) == noted_hash;
}

/*
 * Called by the ProcessUtility hook before the guard's own checks: notes
 * the statement being run when it holds a password command, so that its
 * STATEMENT and duration lines are hidden even if its text never says
 * "password".
 */
void
guard_log_note_statement(Node *parsetree)
{
	bool		secret = false;
	ListCell   *lc;
	List	   *options = NIL;

	if (parsetree == NULL || debug_query_string == NULL)
		return;
	switch (nodeTag(parsetree))
	{
		case T_CreateRoleStmt:
			options = ((CreateRoleStmt *) parsetree)->options;
			break;
		case T_AlterRoleStmt:
			options = ((AlterRoleStmt *) parsetree)->options;
			break;
		case T_CreateUserMappingStmt:
		case T_AlterUserMappingStmt:
		case T_CreateForeignServerStmt:
		case T_AlterForeignServerStmt:
		case T_CreateSubscriptionStmt:
		case T_AlterSubscriptionStmt:
			/* options and connection strings: any of them may hold one */
			secret = true;
			break;
		default:
			return;
	}
	foreach(lc, options)
	{
		DefElem    *d = lfirst_node(DefElem, lc);

		if (strcmp(d->defname, "password") == 0 ||
			strcmp(d->defname, "encryptedPassword") == 0 ||
			strcmp(d->defname, "unencryptedPassword") == 0)
			secret = true;
	}
	if (!secret)
		return;
	noted_len = strlen(debug_query_string);
	noted_hash = hash_bytes((const unsigned char *) debug_query_string, (int) noted_len);
	noted = true;
}

/* fmt with each conversion (%s, %d, %m, ...) shown as ***; NULL if out of memory. */
static char *
blank_arguments(MemoryContext cxt, const char *fmt)
{
	char	   *out;
	char	   *o;

	/* "%c" (2 bytes) becomes "***" (3): at most 3/2 the length, plus one. */
	out = MemoryContextAllocExtended(cxt, strlen(fmt) * 3 / 2 + 2, MCXT_ALLOC_NO_OOM);
	if (out == NULL)
		return NULL;
	o = out;
	while (*fmt)
	{
		if (*fmt != '%')
		{
			*o++ = *fmt++;
			continue;
		}
		fmt++;
		if (*fmt == '%')
		{
			*o++ = *fmt++;
			continue;
		}
		while (*fmt && strchr("-+ #0123456789.*$hlLqjzt", *fmt) != NULL)
			fmt++;
		if (*fmt)
			fmt++;				/* the conversion letter */
		memcpy(o, "***", 3);
		o += 3;
	}
	*o = '\0';
	return out;
}

/*
 * The message with its arguments hidden. The scanner's "%s at or near
 * \"%s\"" and "%s at end of input" keep their first argument, which is the
 * scanner's own text ("syntax error", "unterminated quoted string").
 */
static char *
hide_arguments(MemoryContext cxt, const char *message, const char *fmt)
{
	const char *at;
	char	   *rest;
	char	   *out;
	size_t		head;

	if (strncmp(fmt, "%s at ", 6) != 0 || (at = strstr(message, " at ")) == NULL)
		return blank_arguments(cxt, fmt);
	head = at - message;
	rest = blank_arguments(cxt, fmt + 2);
	if (rest == NULL)
		return NULL;
	out = MemoryContextAllocExtended(cxt, head + strlen(rest) + 1, MCXT_ALLOC_NO_OOM);
	if (out != NULL)
	{
		memcpy(out, message, head);
		strcpy(out + head, rest);
	}
	pfree(rest);
	return out;
}

/*
 * Errors whose message quotes a token or value of the statement: syntax
 * errors (the scanner's "at or near"), bad input for a type, bad escapes
 * and encodings, connection strings (class 08).
 */
static bool
echoing_error(int sqlerrcode)
{
	switch (sqlerrcode)
	{
		case ERRCODE_SYNTAX_ERROR:
		case ERRCODE_INVALID_TEXT_REPRESENTATION:
		case ERRCODE_INVALID_BINARY_REPRESENTATION:
		case ERRCODE_CHARACTER_NOT_IN_REPERTOIRE:
		case ERRCODE_UNTRANSLATABLE_CHARACTER:
		case ERRCODE_INVALID_ESCAPE_SEQUENCE:
		case ERRCODE_NONSTANDARD_USE_OF_ESCAPE_CHARACTER:
		case ERRCODE_INVALID_ESCAPE_CHARACTER:
			return true;
		default:
			return ERRCODE_TO_CATEGORY(sqlerrcode) == ERRCODE_CONNECTION_EXCEPTION;
	}
}

/*
 * "statement: ...", "duration: 0.1 ms  execute <unnamed>: ...": a message
 * that ends with the statement being run keeps what comes before it. NULL
 * if it does not (or out of memory).
 */
static char *
without_statement(MemoryContext cxt, const char *message)
{
	size_t		mlen = strlen(message);
	size_t		qlen;
	char	   *out;

	if (debug_query_string == NULL || (qlen = strlen(debug_query_string)) == 0 ||
		qlen > mlen || strcmp(message + mlen - qlen, debug_query_string) != 0)
		return NULL;
	out = MemoryContextAllocExtended(cxt, mlen - qlen + 4, MCXT_ALLOC_NO_OOM);
	if (out != NULL)
	{
		memcpy(out, message, mlen - qlen);
		strcpy(out + mlen - qlen, "***");
	}
	return out;
}

static void
drop_string(char **s)
{
	if (*s != NULL)
	{
		pfree(*s);
		*s = NULL;
	}
}

/* Is s the word w (case-insensitive), not part of a longer identifier? */
static bool
word_at(const char *start, const char *s, const char *w)
{
	size_t		len = strlen(w);

	return pg_strncasecmp(s, w, len) == 0 &&
		(s == start || !(isalnum((unsigned char) s[-1]) || s[-1] == '_')) &&
		!(isalnum((unsigned char) s[len]) || s[len] == '_');
}

/*
 * Does the statement build SQL at run time (a DO block, EXECUTE)? Its text may
 * then spell a password command so that it never says "password" ('PASS' ||
 * 'WORD'), and the lines that quote it before it runs (log_statement,
 * pgaudit's AUDIT lines) cannot know.
 */
static bool
runs_dynamic_sql(const char *s)
{
	const char *p;

	if (s == NULL)
		return false;
	for (p = s; *p; p++)
		if (word_at(s, p, "execute") || word_at(s, p, "do"))
			return true;
	return false;
}

/*
 * The message with the contents of its string literals ('...', E'...',
 * $tag$...$tag$) shown as ***: what a statement that builds SQL passes to
 * it. NULL if out of memory.
 */
static char *
mask_literals(MemoryContext cxt, const char *m)
{
	/* "***" may be longer than what it replaces: "''" becomes "'***'". */
	char	   *out = MemoryContextAllocExtended(cxt, strlen(m) * 3 + 1, MCXT_ALLOC_NO_OOM);
	char	   *o = out;

	if (out == NULL)
		return NULL;
	while (*m)
	{
		if (*m == '\'')
		{
			*o++ = *m++;
			while (*m && !(*m == '\'' && m[1] != '\''))
				m += (*m == '\'' || *m == '\\') && m[1] ? 2 : 1;
			memcpy(o, "***", 3);
			o += 3;
			if (*m)
				*o++ = *m++;
			continue;
		}
		if (*m == '$')
		{
			const char *t = m + 1;
			const char *end;
			size_t		tag;

			while (isalnum((unsigned char) *t) || *t == '_')
				t++;
			if (*t == '$')
			{
				tag = t - m + 1;
				end = m + tag;
				while (*end && strncmp(end, m, tag) != 0)
					end++;
				memcpy(o, m, tag);
				o += tag;
				memcpy(o, "***", 3);
				o += 3;
				m = end;
				if (*m)
				{
					memcpy(o, m, tag);
					o += tag;
					m += tag;
				}
				continue;
			}
		}
		*o++ = *m++;
	}
	*o = '\0';
	return out;
}

static void
filter(ErrorData *edata)
{
	bool		echoes;
	bool		log_level = edata->elevel == LOG || edata->elevel == LOG_SERVER_ONLY;

	if (log_level && edata->message != NULL && runs_dynamic_sql(debug_query_string))
	{
		char	   *m = mask_literals(edata->assoc_context, edata->message);

		/* The context quotes the statements the block ran, literals and all. */
		edata->hide_ctx = true;
		drop_string(&edata->internalquery);

		if (m != NULL)
		{
			pfree(edata->message);
			edata->message = m;
		}
		else
			edata->message[0] = '\0';
	}
	if (!(mentions_secret(debug_query_string) ||
		  statement_was_noted(debug_query_string) ||
		  mentions_secret(edata->internalquery) ||
		  mentions_secret(edata->context) ||
		  arguments_mention_secret(edata) ||
		  (log_level && (mentions_secret(edata->detail) ||
						 mentions_secret(edata->detail_log)))))
		return;

	edata->hide_stmt = true;
	edata->hide_ctx = true;
	drop_string(&edata->internalquery);
	edata->internalpos = 0;

	/* Details quote values, parameters, libpq's messages. */
	drop_string(&edata->detail);
	drop_string(&edata->detail_log);

	/* Does the primary message quote what was sent? */
	echoes = log_level || echoing_error(edata->sqlerrcode) ||
		has_uri_credentials(edata->message);
	if (echoes && edata->message != NULL)
	{
		char	   *m = without_statement(edata->assoc_context, edata->message);

		if (m == NULL && edata->message_id != NULL)
			m = hide_arguments(edata->assoc_context, edata->message, edata->message_id);

		if (m != NULL)
		{
			pfree(edata->message);
			edata->message = m;
		}
		else
			edata->message[0] = '\0';
	}
}

static void
guard_emit_log_hook(ErrorData *edata)
{
	if (!in_hook)
	{
		in_hook = true;
		filter(edata);
		in_hook = false;
	}
	if (prev_emit_log_hook)
		prev_emit_log_hook(edata);
}

void
guard_log_init(void)
{
	prev_emit_log_hook = emit_log_hook;
	emit_log_hook = guard_emit_log_hook;
}
