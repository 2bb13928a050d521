// A loopback SMTP server speaking just enough of RFC 5321 (EHLO, AUTH PLAIN, MAIL, RCPT, DATA,
// QUIT) for nodemailer to deliver one plain-text mail, recording what it received.
import { once } from 'node:events'
import { createServer, type AddressInfo, type Socket } from 'node:net'

/** A mail as the server received it. */
export interface ReceivedMail {
  readonly from: string
  readonly to: readonly string[]
  /** The DATA section, dot-unstuffed, lines joined with \r\n. */
  readonly data: string
}

/** Options: `rejectAuth` answers AUTH with a 535 that echoes the credentials back (as some servers do). */
export interface TinySmtpOptions {
  readonly rejectAuth?: boolean
}

/** A running tiny SMTP server. */
export interface TinySmtpServer {
  readonly port: number
  readonly mails: ReceivedMail[]
  /** Decoded AUTH PLAIN credentials, one per attempt. */
  readonly auths: string[]
  close(): Promise<void>
}

/** Starts a tiny SMTP server on 127.0.0.1 (a free port). */
export async function startTinySmtpServer(options: TinySmtpOptions = {}): Promise<TinySmtpServer> {
  const mails: ReceivedMail[] = []
  const auths: string[] = []
  const sockets = new Set<Socket>()
  const server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => undefined)
    serve(socket, options, mails, auths)
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    port: (server.address() as AddressInfo).port,
    mails,
    auths,
    async close() {
      for (const socket of sockets) socket.destroy()
      server.close()
      await once(server, 'close')
    },
  }
}

function serve(socket: Socket, options: TinySmtpOptions, mails: ReceivedMail[], auths: string[]): void {
  const reply = (line: string): void => {
    socket.write(`${line}\r\n`)
  }
  let from = ''
  let to: string[] = []
  let data: string[] | undefined
  let buffered = ''
  const onLine = (line: string): void => {
    if (data !== undefined) {
      if (line === '.') {
        mails.push({ from, to, data: data.join('\r\n') })
        data = undefined
        to = []
        reply('250 2.0.0 queued')
      } else {
        data.push(line.startsWith('..') ? line.slice(1) : line)
      }
      return
    }
    const [verb = '', ...rest] = line.split(' ')
    const argument = rest.join(' ')
    switch (verb.toUpperCase()) {
      case 'EHLO':
        reply('250-localhost')
        reply('250 AUTH PLAIN')
        return
      case 'HELO':
      case 'RSET':
      case 'NOOP':
        reply('250 ok')
        return
      case 'AUTH': {
        const encoded = argument.split(' ')[1] ?? ''
        auths.push(Buffer.from(encoded, 'base64').toString())
        reply(options.rejectAuth === true ? `535 5.7.8 authentication failed for ${encoded}` : '235 2.7.0 ok')
        return
      }
      case 'MAIL':
        from = /<([^>]*)>/.exec(argument)?.[1] ?? ''
        reply('250 ok')
        return
      case 'RCPT':
        to.push(/<([^>]*)>/.exec(argument)?.[1] ?? '')
        reply('250 ok')
        return
      case 'DATA':
        data = []
        reply('354 end with <CRLF>.<CRLF>')
        return
      case 'QUIT':
        reply('221 bye')
        socket.end()
        return
      default:
        reply('502 5.5.2 not implemented')
    }
  }
  socket.setEncoding('utf8')
  socket.on('data', (chunk: string) => {
    buffered += chunk
    let end = buffered.indexOf('\r\n')
    while (end !== -1) {
      onLine(buffered.slice(0, end))
      buffered = buffered.slice(end + 2)
      end = buffered.indexOf('\r\n')
    }
  })
  reply('220 localhost ESMTP tiny')
}
