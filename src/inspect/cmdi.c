/*
 * Command injection: a value that, pasted into a shell command line,
 * ends the command and starts another, or substitutes one.
 *
 * The grammar followed is the POSIX shell's and cmd.exe's: a separator
 * (";", "|", "||", "&", "&&", a line break) or a substitution ("$(",
 * "`"), then a command word. The word may be split by quotes and
 * backslashes (w'h'o'am'i, c\at) or follow ${IFS}; it may carry a path
 * (/bin/cat). It counts when it names a program that attacks use. After
 * a separator the word must also be followed by what a command line has
 * next: the end, another separator, a redirection, an option, a path,
 * an address or a variable. "Tom & Jerry" and "dogs; cat lovers" pass.
 * Programs that only read or change the files they are given, many of
 * them English words (more, less, head, tail, type), need one of those
 * after them: the end of the value or another separator is not enough,
 * so "R&D budget & more" passes.
 *
 * Only the programs listed below are seen; another program after a
 * separator, or an option injected into a command without a separator
 * ("--output=/etc/x"), passes.
 */
#include <string.h>

#include "internal.h"

/* Programs used to probe, read, fetch or open a shell. Lower case. */
static const char *const commands[] = {
    "awk", "base64", "bash", "bitsadmin", "busybox", "cat", "certutil",
    "chmod", "cmd", "cmd.exe", "crontab", "csh", "curl", "dash", "dig",
    "dir", "echo", "env", "find", "ftp", "grep", "head", "hostname", "id",
    "ifconfig", "ipconfig", "ksh", "less", "ls", "mkfifo", "more",
    "mshta", "nc", "ncat", "net", "netcat", "netstat", "node", "nslookup",
    "openssl", "perl", "php", "ping", "powershell", "printenv", "ps",
    "pwd", "pwsh", "python", "python3", "regsvr32", "rm", "ruby",
    "rundll32", "sh", "sleep", "socat", "ssh", "sudo", "systeminfo",
    "tail", "tar", "telnet", "tftp", "timeout", "touch", "type", "uname",
    "wget", "whoami", "wmic", "xterm", "zsh",
};

/* Skip blanks and the shell's ${IFS} / $IFS spellings of a blank. */
static size_t
skip_blank(struct slice s, size_t i)
{
    for (;;) {
        if (i < s.len && (s.ptr[i] == ' ' || s.ptr[i] == '\t'))
            i++;
        else if (inspect_prefix_nocase(s.ptr + i, s.len - i, "${ifs}"))
            i += 6;
        else if (inspect_prefix_nocase(s.ptr + i, s.len - i, "$ifs"))
            i += 4;
        else
            return i;
    }
}

static bool
word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-' ||
           c == '/' || c == '\\' || c == '\'' || c == '"';
}

/*
 * Read a command word at s[*i..), without quotes and backslashes and
 * without a leading path, into w (lower case, at most cap - 1 bytes).
 * Returns its length, 0 when there is no word or it is too long.
 */
static size_t
command_word(struct slice s, size_t *i, char *w, size_t cap)
{
    size_t n = 0;
    bool too_long = false;

    for (; *i < s.len && word_byte((unsigned char)s.ptr[*i]); (*i)++) {
        unsigned char c = (unsigned char)s.ptr[*i];

        if (c == '\'' || c == '"' || (c == '\\' && n > 0))
            continue;
        if (c == '/' || c == '\\') {
            n = 0;              /* /bin/cat: keep what follows the path */
            continue;
        }
        if (n + 1 >= cap)
            too_long = true;
        else
            w[n++] = (char)inspect_lower(c);
    }
    w[n] = '\0';
    return too_long ? 0 : n;
}

/* Programs that do nothing an attacker wants without an operand. */
static const char *const operand_commands[] = {
    "cat", "chmod", "grep", "head", "less", "more", "rm", "tail", "tar",
    "touch", "type",
};

static bool
listed(const char *w, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(w, list[i]) == 0)
            return true;
    return false;
}

/*
 * True when s[i..) starts like what follows a command: nothing, a
 * separator, a redirection, an option, a path, an address, a variable.
 * A '|' or '`' after the word is not enough: Markdown tables
 * ("| key | type |") and code spans put them after ordinary words.
 */
static bool
argument_like(struct slice s, size_t i, bool operand)
{
    unsigned char c;

    /* The word ends at a blank or a separator: "type=" and "id[0]" are
       not commands. */
    if (i < s.len && strchr(" \t;&|<>\n\r$", s.ptr[i]) == NULL &&
        !inspect_prefix_nocase(s.ptr + i, s.len - i, "${ifs}"))
        return false;
    i = skip_blank(s, i);
    if (i >= s.len)
        return !operand;
    c = (unsigned char)s.ptr[i];
    if (operand && c != '\0' && strchr(";&\n\r#", c) != NULL)
        return false;
    if (c != '\0' && strchr(";&<>\n\r$/~\\-#", c) != NULL)
        return true;
    if (c == '.' || (c >= '0' && c <= '9'))
        return true;
    /* evil.example, dir/file, http://host, C:\\ */
    for (size_t k = i; k < s.len && strchr(" \t;|&\n\r", s.ptr[k]) == NULL;
         k++)
        if (strchr("./:\\", s.ptr[k]) != NULL && s.ptr[k] != '\0')
            return true;
    return false;
}

/* A backtick substitutes when it starts the value or follows a quote,
   '=', ';', '&' or a line break; in prose and Markdown ("run `ls`
   first", "| `id` |", "(`id[a]`)") it marks code. */
static bool
backtick_opens(struct slice s, size_t i)
{
    while (i > 0 && (s.ptr[i - 1] == ' ' || s.ptr[i - 1] == '\t'))
        i--;
    return i == 0 || (s.ptr[i - 1] != '\0' &&
                      strchr("'\"=;&\n\r", s.ptr[i - 1]) != NULL);
}

/* True when a substituted command word ends at s[i]: the end, a blank,
   the closing '`' or ')', or a separator; not "`id=5`" or "`id[a]`". */
static bool
subst_word_ends(struct slice s, size_t i)
{
    return i >= s.len || (s.ptr[i] != '\0' &&
                          strchr(" \t`);&|\n\r", s.ptr[i]) != NULL);
}

/* True when s[j..) is a path spelled with shell globs, "/???/??t", the
   way to name /bin/cat without writing it: at least two '?' in a token
   of path and glob characters. */
static bool
glob_path(struct slice s, size_t j)
{
    unsigned q = 0;

    if (j >= s.len || s.ptr[j] != '/')
        return false;
    for (; j < s.len && s.ptr[j] != '\0' &&
           strchr("/?*[]abcdefghijklmnopqrstuvwxyz0123456789._-", s.ptr[j]);
         j++)
        q += s.ptr[j] == '?';
    return q >= 2;
}

/* The length of a separator or substitution at s[i], 0 if none. */
static size_t
separator(struct slice s, size_t i, bool *subst)
{
    char c = s.ptr[i];

    *subst = false;
    if (c == '$' && i + 1 < s.len && s.ptr[i + 1] == '(') {
        *subst = true;
        return 2;
    }
    if (c == '`' && backtick_opens(s, i)) {
        *subst = true;
        return 1;
    }
    if (c == ';' || c == '\n' || c == '\r')
        return 1;
    if (c == '|' || c == '&')
        return i + 1 < s.len && s.ptr[i + 1] == c ? 2 : 1;
    return 0;
}

bool
inspect_cmdi_match(const struct inspect_value *v, struct inspect_verdict *out)
{
    struct slice s = v->text;

    for (size_t i = 0; i < s.len; i++) {
        char w[16];
        bool subst;
        size_t n = separator(s, i, &subst), j;

        if (n == 0)
            continue;
        j = skip_blank(s, i + n);
        if (!subst && s.ptr[i] != '|' && j < s.len && s.ptr[j] == '(') {
            subst = true;       /* ;(id) runs a subshell */
            j = skip_blank(s, j + 1);
        }
        if (glob_path(s, j))
            return inspect_found(v, "cmdi", "inspect.cmdi", "glob_command",
                                 80, i, out);
        if (command_word(s, &j, w, sizeof(w)) == 0 ||
            !listed(w, commands, ARRAY_LEN(commands)))
            continue;
        if (subst ? subst_word_ends(s, j)
                  : argument_like(s, j, listed(w, operand_commands,
                                               ARRAY_LEN(operand_commands))))
            return inspect_found(v, "cmdi", "inspect.cmdi",
                                 subst ? "substitution" : "chained_command",
                                 subst ? 85 : 80, i, out);
    }
    return false;
}
