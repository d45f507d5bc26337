/**
 * registry.ts — every command (README "Usage") with its options, help text and examples. Kept free
 * of heavy imports: a command's implementation is loaded only when it runs, so
 * `manage-secrets --help` starts fast (under 0.3 s).
 */
import { RUN_COMMANDS } from './registry-runs.js'
import { playOptions, type CommandSpec } from './spec.js'

/** COMMANDS lists every command in the order `--help` shows them: those on the hosts, then the tools. */
export const COMMANDS: CommandSpec[] = [
  ...RUN_COMMANDS,
  {
    command: 'vault <action> [files..]',
    describe: 'the encrypted store: create, view, edit, encrypt, decrypt, rekey, import, status, keygen',
    examples: [
      ['$0 vault view all-secrets', "print a bundle's key names and values to the terminal"],
      ['$0 vault view app --reveal --json', 'names and values as JSON, for a script (values leave the terminal)'],
      ['$0 vault edit app', 'change values in $EDITOR; saved only if the text changed'],
      ['$0 vault decrypt app --output app.env', 'plaintext to a new 0600 file (--force to replace it)'],
      ['$0 vault status', 'each bundle: version, keys due for rotation; needs no password'],
      ['$0 vault import secrets.yml --vault-password-file ~/.vault_pass', 'migrate an ansible-vault file'],
      ['$0 vault create', 'generate every bundle of .secrets/manifest.yml'],
      ['$0 vault rekey --new-vault-password-file new.pass', 're-encrypt every bundle with a new password'],
      [
        '$0 vault keygen --admin alice --output ~/.config/manage-secrets/alice.key',
        'an admin key pair (recipient mode)',
      ],
    ],
    options: (y) =>
      y
        .positional('action', {
          type: 'string',
          choices: ['create', 'view', 'edit', 'encrypt', 'decrypt', 'rekey', 'import', 'status', 'keygen'],
          describe: 'what to do',
        })
        .positional('files', {
          type: 'string',
          array: true,
          describe: 'bundle names, or files for encrypt/import/view',
        })
        .option('bundle', { alias: 'b', type: 'string', describe: 'encrypt/import: the bundle to put the values in' })
        .option('output', {
          alias: 'o',
          type: 'string',
          describe: 'decrypt: plaintext file (0600) or - ; keygen: private key file',
        })
        .option('reveal', {
          type: 'boolean',
          default: false,
          describe: 'view: print values even when stdout is not a terminal',
        })
        .option('force', { type: 'boolean', default: false, describe: 'replace an existing output or public key file' })
        .option('new-vault-password-file', {
          type: 'string',
          describe: 'rekey: file holding the new password (mode 0600)',
        })
        .option('source-password-file', {
          type: 'string',
          array: true,
          describe: "import/view: ansible-vault password file(s), if not the store's",
        })
        .option('identity', {
          type: 'string',
          describe: 'private key file for recipient mode (or $MANAGE_SECRETS_IDENTITY)',
        })
        .option('admin', { type: 'string', describe: 'keygen: make a key pair for this admin' })
        .option('host', { type: 'string', describe: 'keygen: make a key pair for this host' }),
    globals: ['inventory', 'json', 'color', 'verbose', 'vault-password-file'],
    actions: [
      ['create', 'generate every bundle of the manifest (or the named ones)'],
      ['view', "print a bundle's key names and values (values only on a terminal, or with --reveal)"],
      ['edit', 'edit a bundle in $EDITOR through a 0600 file removed afterwards'],
      ['encrypt', 'put the values of a plaintext file into a bundle (--bundle)'],
      ['decrypt', 'write a bundle as plaintext to --output (0600) or -'],
      ['rekey', 're-encrypt every bundle under --new-vault-password-file'],
      ['import', 'migrate ansible-vault and .env files into bundles'],
      ['status', 'each bundle: version, keys, last rotation, next due date'],
      ['keygen', 'make a key pair for an --admin or a --host (recipient mode)'],
    ],
    actionOptions: {
      create: ['identity'],
      view: ['reveal', 'source-password-file', 'identity'],
      edit: ['identity'],
      encrypt: ['bundle', 'source-password-file', 'identity'],
      decrypt: ['output', 'force', 'identity'],
      rekey: ['new-vault-password-file', 'identity'],
      import: ['bundle', 'source-password-file', 'identity'],
      status: [],
      keygen: ['admin', 'host', 'output', 'force'],
    },
    load: () => import('./vault.js'),
  },
  {
    command: 'play <playbook>',
    describe: 'run any playbook against the inventory',
    examples: [
      ['$0 play playbooks/deploy.yml --hosts web --check', 'dry run of a playbook on the web group'],
      ['$0 play site.yml --tags secrets -e owner=root', 'only tasks tagged secrets, with an extra var'],
    ],
    options: playOptions,
    load: () => import('./play.js'),
  },
  {
    command: 'hosts [pattern]',
    describe: 'list the hosts an Ansible pattern matches',
    examples: [
      ['$0 hosts --hosts "web:&prod:!web03"', 'web hosts in prod, except web03'],
      ['$0 hosts "db[0:2]" --json', 'the first three db hosts, as JSON'],
      ['$0 hosts onode1 --vars', 'the merged variables of onode1'],
    ],
    options: (y) =>
      y
        .positional('pattern', { type: 'string', describe: 'host pattern (same as --hosts)' })
        .option('vars', { type: 'boolean', default: false, describe: "print each host's merged variables" }),
    globals: ['inventory', 'hosts', 'json', 'color', 'verbose'],
    load: () => import('./hosts.js'),
  },
  {
    command: 'schedule <action>',
    describe: 'cron daemon, crontab/systemd units, next runs',
    examples: [
      [
        '$0 schedule run',
        'the daemon: run the jobs of cron/schedule.yml, never two at once; SIGTERM waits for the running job',
      ],
      ['$0 schedule next --count 3', 'the next three run times of every job'],
      ['$0 schedule print-crontab > /etc/cron.d/manage-secrets', 'the same jobs for the system cron'],
      ['$0 schedule print-systemd --user root', 'a .service and a .timer per job'],
    ],
    options: (y) =>
      y
        .positional('action', {
          type: 'string',
          choices: ['run', 'next', 'print-crontab', 'print-systemd'],
          describe: 'what to do',
        })
        .option('schedule', {
          type: 'string',
          describe: 'the schedule file (default: ./cron/schedule.yml, else the one shipped)',
        })
        .option('count', { type: 'number', default: 5, describe: 'next: how many run times per job' })
        .option('bin', {
          type: 'string',
          describe: 'print-*: the installed program (default /usr/local/bin/manage-secrets)',
        })
        .option('log-file', {
          type: 'string',
          describe: 'print-crontab: where job output is appended (default /var/log/manage-secrets.log)',
        })
        .option('user', { type: 'string', describe: 'print-systemd: User= of the services' }),
    globals: ['inventory', 'json', 'color', 'verbose'],
    actions: [
      ['run', 'the daemon: run the jobs of the schedule, never two at once'],
      ['next', 'the next run times of every job'],
      ['print-crontab', 'the same jobs as a crontab'],
      ['print-systemd', 'a .service and a .timer per job'],
    ],
    load: () => import('./schedule.js'),
  },
  {
    command: 'journal <action>',
    describe: 'show, verify or sign the keyed run journal',
    examples: [
      ['$0 journal verify', 'check the keyed chain: names any edited, deleted, inserted or reordered line (exit 3)'],
      [
        '$0 journal verify --against /var/log/manage-secrets.log',
        'compare with the syslog copy: names the first line that differs',
      ],
      ['$0 journal show --since 7d', 'the runs and reads of the last week, with their hosts'],
      ['$0 journal show --json --since 2026-11-01', 'the same as JSON (names only, never values)'],
      ['$0 journal sign --identity ~/.keys/alice.key', 'recipient mode: an admin signs the head'],
    ],
    options: (y) =>
      y
        .positional('action', { type: 'string', choices: ['verify', 'show', 'sign'], describe: 'what to do' })
        .option('since', {
          type: 'string',
          describe: 'show: only entries since an ISO date or a duration back (7d, 12h)',
        })
        .option('against', {
          type: 'string',
          describe: 'verify: a syslog file holding the journal copy (RFC 5424, as rsyslog writes it)',
        })
        .option('identity', {
          type: 'string',
          describe: "sign: the admin's private key file (or $MANAGE_SECRETS_IDENTITY)",
        }),
    globals: ['inventory', 'json', 'color', 'verbose'],
    actions: [
      ['verify', 'check the keyed chain, the head copy and signature (exit 3 naming each broken line)'],
      ['show', 'the runs, reads and their hosts (--since, --json)'],
      ['sign', "sign the head with an admin's OpenPGP key (recipient mode)"],
    ],
    actionOptions: { verify: ['against'], show: ['since'], sign: ['identity'] },
    load: () => import('./journal.js'),
  },
  {
    command: 'load [cmd..]',
    describe: 'container side: exec a command with the bundles',
    examples: [
      [
        '$0 load --secrets-dir /app/secrets --password-file /app/vault-password -- node server.js',
        'entrypoint of a container run with -v /opt/callableapis/vault-password:/app/vault-password:ro -v /opt/callableapis/secrets:/app/secrets:ro: decrypt every bundle, start the service with them',
      ],
      [
        '$0 load --secrets-dir /app/secrets --identity /app/host.key --bundle aws --bundle cloudflare -- ./deploy.sh',
        'recipient mode, only two bundles',
      ],
      [
        '$0 load --secrets-dir /app/secrets --password-file /app/vault-password --allow-missing -- node server.js',
        'start even when the mounts are absent (one warning each)',
      ],
      [
        '$0 load --secrets-dir /app/secrets --password-file /app/vault-password --format env',
        'print KEY=VALUE lines instead of running a command',
      ],
      [
        '$0 load --secrets-dir /app/secrets --password-file /app/vault-password --allow-key NODE_OPTIONS -- node server.js',
        'let a bundle set NODE_OPTIONS (loader keys such as NODE_OPTIONS, LD_PRELOAD, PATH are refused otherwise)',
      ],
    ],
    options: (y) =>
      y
        .positional('cmd', {
          type: 'string',
          array: true,
          describe: 'the command to run and its arguments (put -- before it)',
        })
        .option('secrets-dir', {
          type: 'string',
          demandOption: true,
          describe: 'folder of <bundle>.env files (encrypted or plaintext env)',
        })
        .option('password-file', {
          type: 'string',
          describe:
            "the host's vault password file, mode 0600 (password mode; or --vault-password-file, $MANAGE_SECRETS_VAULT_PASSWORD_FILE)",
        })
        .option('identity', {
          type: 'string',
          describe: "the host's armoured private key file, mode 0600 (recipient mode; or $MANAGE_SECRETS_IDENTITY)",
        })
        .option('bundle', {
          alias: 'b',
          type: 'string',
          describe: 'load only this bundle (repeatable); default: every *.env',
        })
        .option('allow-missing', {
          type: 'boolean',
          default: false,
          describe: 'warn and run anyway when the dir, a bundle or a credential file is missing',
        })
        .option('allow-key', {
          type: 'string',
          describe:
            'let bundles set this loader key (NODE_OPTIONS, LD_*, PATH, PYTHON*, …; refused otherwise); repeatable',
        })
        .option('format', {
          type: 'string',
          choices: ['env', 'json'],
          describe: 'print the values (KEY=VALUE lines or one JSON object) instead of running a command',
        }),
    globals: ['color', 'verbose', 'vault-password-file'],
    load: () => import('./load.js'),
  },
]
