// Public API of the simulated infrastructure driver.
export {
  SimulatedDriver,
  NO_VALID_HOST,
  HOST_NOT_EMPTY,
  type CreateInstanceRequest,
  type SimHost,
  type SimHostView,
  type SimInstance,
  type SimInstanceView,
  type SimOp,
  type SimOpKind,
  type SimState,
  type SimulatedDriverOptions,
} from './simulated-driver.js';
export {
  ScenarioSchema,
  ScenarioHostSchema,
  ScenarioInstanceSchema,
  parseScenario,
  demoScenario,
  type Scenario,
  type ScenarioInput,
  type ScenarioHost,
  type ScenarioInstance,
  type ScenarioTimings,
  type ScenarioFailures,
} from './scenario.js';
export { RemoteSimulatorDriver, type RemoteSimulatorOptions } from './remote-driver.js';
export { simulatedDriverRoutes, simulatorErrorHandler, simulatorNotFound } from './server.js';
