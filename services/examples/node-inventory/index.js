'use strict';
// reserve-inventory for examples/order, as a StateHop Task service written from
// docs/task-contract.md alone: no StateHop code, only an AMQP 0-9-1 client (amqplib).
//
//   STATEHOP_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/ STATEHOP_QUEUE_PREFIX=statehop node index.js
//
// Task:   consume <prefix>.tasks.reserve-inventory (bound to the direct exchange <prefix>.hops
//         with routing key tasks.reserve-inventory); body = {"orderId", "sku", "qty"}.
//         The service declares its queue (the engine never does: until some service declared
//         it, a Task for it fails at once with States.Runtime; once it exists, tasks wait in
//         it while the service is down). (docs/task-contract.md; arguments in docs/wire-format.md)
// Reply:  publish to exchange <prefix>.hops, routing key = the task's reply_to ("replies"),
//         correlation_id = token, headers x-sh-token = token and x-sh-reply = success | failure
//         | heartbeat; body = the result, or {"error", "cause"}. Ack the task after the reply
//         is confirmed. An sku starting with "sold-out" fails with error "OutOfStock".
// SIGTERM: stop consuming, finish the tasks in flight, exit 0.

const amqp = require('amqplib');

const URL = process.env.STATEHOP_AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672/';
const PREFIX = process.env.STATEHOP_QUEUE_PREFIX || 'statehop';
const TASK = process.env.STATEHOP_TASK || 'reserve-inventory';
const PREFETCH = Number(process.env.STATEHOP_PREFETCH || 16);
const DELAY_MS = Number(process.env.INVENTORY_DELAY_MS || 0); // simulated work, to show heartbeats
const SHUTDOWN_MS = Number(process.env.STATEHOP_SHUTDOWN_TIMEOUT || 30) * 1000;

const EXCHANGE = `${PREFIX}.hops`;
const QUEUE = `${PREFIX}.tasks.${TASK}`;
// The arguments of every StateHop work queue (docs/wire-format.md; runtime/transport/base.py
// Topology.queue_arguments), for STATEHOP_QUEUE_TYPE quorum (the default) or classic. Used only
// when the queue does not exist yet: RabbitMQ refuses a declaration whose arguments differ.
const QUEUE_TYPE = process.env.STATEHOP_QUEUE_TYPE || 'quorum';
const QUEUE_ARGS = {
  'x-queue-type': QUEUE_TYPE,
  'x-dead-letter-exchange': `${PREFIX}.dlx`,
  'x-dead-letter-routing-key': 'dead',
  ...(QUEUE_TYPE === 'quorum'
    ? {
        'x-delivery-limit': Number(process.env.STATEHOP_DELIVERY_LIMIT || 10),
        'x-dead-letter-strategy': 'at-least-once',
        'x-overflow': 'reject-publish',
      }
    : {}),
};

const log = (...args) => console.log(new Date().toISOString(), 'node-inventory:', ...args);

class OutOfStock extends Error {
  constructor(message) {
    super(message);
    this.name = 'OutOfStock';
  }
}

// The business logic: the same as examples/order/handlers.py reserve_inventory.
async function reserveInventory(payload) {
  const { orderId, sku, qty } = payload;
  if (DELAY_MS > 0) await new Promise((resolve) => setTimeout(resolve, DELAY_MS));
  if (String(sku).startsWith('sold-out')) throw new OutOfStock(`${sku} is out of stock (order ${orderId})`);
  return { sku, qty, reservationId: `res-${orderId}-${sku}` };
}

async function declareQueue(connection) {
  // Declare our queue unless it exists already (an earlier run, another replica, or a Python
  // replica of the same task declared it); a passive check that fails closes its channel,
  // hence the throwaway channel.
  const probe = await connection.createChannel();
  probe.on('error', () => {});
  try {
    await probe.checkQueue(QUEUE);
    await probe.close();
  } catch {
    const ch = await connection.createChannel();
    await ch.assertExchange(EXCHANGE, 'direct', { durable: true });
    await ch.assertQueue(QUEUE, { durable: true, arguments: QUEUE_ARGS });
    await ch.bindQueue(QUEUE, EXCHANGE, `tasks.${TASK}`);
    await ch.close();
  }
}

async function main() {
  let stopping = false;
  let inFlight = 0;
  let idle = null;
  const connection = await amqp.connect(URL, { clientProperties: { connection_name: `node-inventory ${TASK}` } });
  connection.on('error', (err) => log('connection error:', err.message));
  connection.on('close', () => {
    if (!stopping) {
      log('connection closed unexpectedly; exiting so the supervisor restarts us');
      process.exit(1);
    }
  });
  await declareQueue(connection);

  const replies = await connection.createConfirmChannel();
  replies.on('return', (msg) => log('reply returned unroutable:', msg.fields.routingKey));
  const tasks = await connection.createChannel();
  await tasks.prefetch(PREFETCH);

  const reply = (msg, token, kind, body) =>
    new Promise((resolve, reject) => {
      replies.publish(
        EXCHANGE,
        msg.properties.replyTo || 'replies',
        Buffer.from(JSON.stringify(body)),
        {
          correlationId: token,
          contentType: 'application/json',
          headers: { 'x-sh-token': token, 'x-sh-reply': kind },
          persistent: msg.properties.deliveryMode === 2,
          mandatory: true,
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });

  async function handle(msg) {
    const headers = msg.properties.headers || {};
    const token = String(headers['x-sh-token'] || msg.properties.correlationId || '');
    if (!token) {
      log('task without a token rejected');
      tasks.nack(msg, false, false); // to the dead-letter queue
      return;
    }
    const deadline = headers['x-sh-deadline'] ? Number(headers['x-sh-deadline']) : null;
    if (deadline !== null && Date.now() >= deadline) {
      log(`task ${token.slice(0, 12)} arrived after its deadline; the engine already timed it out`);
      tasks.ack(msg);
      return;
    }
    let beat = null;
    const heartbeat = Number(headers['x-sh-heartbeat'] || 0);
    if (heartbeat > 0) {
      beat = setInterval(() => {
        reply(msg, token, 'heartbeat', {}).catch((err) => log('heartbeat not sent:', err.message));
      }, (heartbeat * 1000) / 2);
    }
    let kind;
    let body;
    try {
      body = await reserveInventory(JSON.parse(msg.content.toString('utf8')));
      kind = 'success';
    } catch (err) {
      kind = 'failure';
      body = { error: err.name || 'Error', cause: err.message || String(err) };
    } finally {
      if (beat) clearInterval(beat);
    }
    await reply(msg, token, kind, body);
    tasks.ack(msg);
  }

  const { consumerTag } = await tasks.consume(QUEUE, (msg) => {
    if (msg === null) {
      log('consumer cancelled by the broker (queue deleted?)');
      return;
    }
    inFlight += 1;
    handle(msg)
      .catch((err) => {
        log('task failed before its reply was confirmed; requeued:', err.message);
        try {
          tasks.nack(msg, false, true);
        } catch {}
      })
      .finally(() => {
        inFlight -= 1;
        if (inFlight === 0 && idle) idle();
      });
  });

  const stop = async (signal) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: no new tasks; finishing ${inFlight} in flight`);
    await tasks.cancel(consumerTag);
    if (inFlight > 0) {
      await Promise.race([
        new Promise((resolve) => {
          idle = resolve;
        }),
        new Promise((resolve) => setTimeout(resolve, SHUTDOWN_MS)),
      ]);
    }
    await connection.close();
    log('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  log(`ready: consuming ${QUEUE}`);
}

main().catch((err) => {
  console.error('node-inventory: failed to start:', err.message);
  process.exit(1);
});
