import type { Command } from 'commander';
import { loadKeyFile } from '../sdk/key-file.ts';
import { clientFrom, withClientOptions } from './client-options.ts';
import { action, print } from './output.ts';

type ClientOpts = { server: string; key?: string };

export function registerUsers(program: Command): void {
  const users = program.command('users').description('people and service accounts');
  withClientOptions(users.command('list').description('list users')).action(
    action(async (o: ClientOpts) => print(await clientFrom(o).get('/v1/users'))),
  );
  withClientOptions(users.command('show <id>').description('show a user')).action(
    action(async (id: string, o: ClientOpts) =>
      print(await clientFrom(o).get(`/v1/users/${encodeURIComponent(id)}`)),
    ),
  );
  withClientOptions(
    users
      .command('add <name>')
      .description('add a user with the public key from their key file (they send you only the public part)')
      .requiredOption('--public-key-file <file>', "the new user's key file (only the public key is read)")
      .option('--service', 'a service account rather than a person')
      .option('--group <name...>', 'groups to join'),
  ).action(
    action(
      async (
        name: string,
        o: ClientOpts & { publicKeyFile: string; service?: boolean; group?: string[] },
      ) => {
        const k = loadKeyFile(o.publicKeyFile);
        print(
          await clientFrom(o).post('/v1/users', {
            name,
            kind: o.service ? 'service' : 'person',
            keys: [{ alg: k.alg, publicKey: k.publicKeySpki }],
            ...(o.group ? { groups: o.group } : {}),
          }),
        );
      },
    ),
  );
  withClientOptions(
    users
      .command('revoke-key <userId> <keyId>')
      .description('revoke a key; its signatures are refused from now on'),
  ).action(
    action(async (userId: string, keyId: string, o: ClientOpts) =>
      print(
        await clientFrom(o).post(
          `/v1/users/${encodeURIComponent(userId)}/keys/${encodeURIComponent(keyId)}/revoke`,
          undefined,
        ),
      ),
    ),
  );
}

export function registerGroups(program: Command): void {
  const groups = program.command('groups').description('groups of users');
  withClientOptions(groups.command('list').description('list groups')).action(
    action(async (o: ClientOpts) => print(await clientFrom(o).get('/v1/groups'))),
  );
  withClientOptions(groups.command('add <name>').description('create a group')).action(
    action(async (name: string, o: ClientOpts) => print(await clientFrom(o).post('/v1/groups', { name }))),
  );
  withClientOptions(groups.command('add-member <groupId> <userId>').description('add a member')).action(
    action(async (groupId: string, userId: string, o: ClientOpts) =>
      print(await clientFrom(o).post(`/v1/groups/${encodeURIComponent(groupId)}/members`, { userId })),
    ),
  );
  withClientOptions(groups.command('remove-member <groupId> <userId>').description('remove a member')).action(
    action(async (groupId: string, userId: string, o: ClientOpts) =>
      print(
        await clientFrom(o).delete(
          `/v1/groups/${encodeURIComponent(groupId)}/members/${encodeURIComponent(userId)}`,
        ),
      ),
    ),
  );
}
