-- Headless Neovim as a plain LSP client of the Ensemble daemon (Neovim 0.7 API).
-- Configuration comes from ENSEMBLE_NVIM (JSON): cmd, cwd, env, root, file, init,
-- invite, encoding, timeout_ms, out, min_diagnostics (how many to wait for, default 1).
-- Everything observed is written as JSON to `out`.
local cfg = vim.fn.json_decode(os.getenv("ENSEMBLE_NVIM"))
local report = { log = {} }

local function log(msg)
  table.insert(report.log, msg)
end

local function finish()
  local fh = io.open(cfg.out .. ".tmp", "w")
  fh:write(vim.fn.json_encode(report))
  fh:close()
  os.rename(cfg.out .. ".tmp", cfg.out)
end

local function run()
  local env = cfg.env
  local state = nil
  local client_id = vim.lsp.start_client({
    name = "ensemble",
    cmd = cfg.cmd,
    cmd_cwd = cfg.cwd,
    cmd_env = env,
    root_dir = cfg.root,
    init_options = cfg.init,
    offset_encoding = cfg.encoding,
    before_init = function(params, _)
      if cfg.encoding == "utf-8" then
        -- A UTF-8-only client (the LSP 3.17 way; Neovim 0.7 does not send it itself).
        params.capabilities.general = { positionEncodings = { "utf-8" } }
      end
    end,
    handlers = {
      ["ensemble/didChangeConnection"] = function(_, params)
        state = params.state
      end,
    },
    on_init = function(client, result)
      report.server_encoding = result.capabilities.positionEncoding or vim.NIL
    end,
  })
  if not client_id then
    report.error = "start_client failed"
    return
  end
  local ok = vim.wait(cfg.timeout_ms, function()
    local c = vim.lsp.get_client_by_id(client_id)
    return c ~= nil and c.initialized == true
  end, 20)
  if not ok then
    report.error = "daemon did not initialize"
    return
  end
  local client = vim.lsp.get_client_by_id(client_id)
  log("initialized")

  if not vim.wait(cfg.timeout_ms, function() return state == "online" end, 20) then
    report.error = "daemon did not come online (state " .. tostring(state) .. ")"
    return
  end
  log("online")

  local joined = nil
  client.request("ensemble/joinSession", { invite = cfg.invite }, function(err, result)
    joined = { err = err or vim.NIL, result = result or vim.NIL }
  end)
  if not vim.wait(cfg.timeout_ms, function() return joined ~= nil end, 20) then
    report.error = "joinSession did not answer"
    return
  end
  report.join_error = joined.err
  if joined.err ~= vim.NIL then
    report.error = "joinSession failed"
    return
  end
  log("joined")

  vim.cmd("edit " .. vim.fn.fnameescape(cfg.file))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(bufnr, client_id)
  local ns = vim.lsp.diagnostic.get_namespace(client_id)
  local want = cfg.min_diagnostics or 1
  local got = vim.wait(cfg.timeout_ms, function()
    return #vim.diagnostic.get(bufnr, { namespace = ns }) >= want
  end, 20)
  report.diagnostics = {}
  for _, d in ipairs(vim.diagnostic.get(bufnr, { namespace = ns })) do
    table.insert(report.diagnostics, {
      lnum = d.lnum, col = d.col, end_lnum = d.end_lnum, end_col = d.end_col,
      message = d.message, source = d.source or vim.NIL, severity = d.severity,
    })
  end
  if not got then
    report.error = "no diagnostics arrived"
  end
  report.lines = vim.api.nvim_buf_get_lines(bufnr, 0, -1, false)

  vim.lsp.stop_client(client_id)
  report.stopped = vim.wait(cfg.timeout_ms, function()
    return vim.lsp.get_client_by_id(client_id) == nil
  end, 20)
end

local ok, err = pcall(run)
if not ok then
  report.error = tostring(err)
end
finish()
vim.cmd("qa!")
